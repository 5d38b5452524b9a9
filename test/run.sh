#!/usr/bin/env bash
# The one test command: installs if tools/venv is missing or stale (and the browser the
# demo page's test drives), lints, runs pytest.
#   ./test/run.sh                 everything (what CI runs)
#   ./test/run.sh -m "not slow"   skip the slow end-to-end tests
#   ./test/run.sh test/test_encoder.py -k batch   any pytest arguments
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tools/install.sh --browser
# shellcheck disable=SC1091
. tools/activate_python.sh
ruff check --quiet osum test bench
ruff format --check --quiet osum test bench
# test files run in parallel, one worker a core up to 4 (a file's tests stay together,
# so a module's fixtures are built once); "-n 0" runs them in this process.
# pytest's exit status is the script's: 5 (no test collected) fails too
jobs=$(nproc)
[ "${jobs}" -gt 4 ] && jobs=4
exec python -m pytest -n "${jobs}" --dist loadfile "$@"
