# shellcheck disable=SC1091
. ../../../tools/activate_python.sh
export PYTHONIOENCODING=UTF-8 LC_ALL=C.UTF-8
