#!/usr/bin/env bash
# The main job. Installs what is missing (tools/install.sh), then runs the stages of every
# recipe given (default: egs/mini_osum/osum1, which needs no download) and prints one
# table of all their scores (RESULTS_ALL.md).
#
# Usage: ./run_all.sh [--recipes "egs/a/osum1 egs/b/osum1"] [--stage N] [--stop_stage M]
#                     [--ngpu N] [--smoke true]
#   --smoke true   the quick check instead: each recipe's --tiny run (tiny random models,
#                  one short phase; exp/tiny/, its RESULTS.md there)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

recipes="egs/mini_osum/osum1"
stage=1
stop_stage=5
ngpu=0
smoke=false
help_message=$(sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//')
. utils/parse_options.sh

tools/install.sh
# shellcheck disable=SC1091
. tools/activate_python.sh

check=()
${smoke} && check=(--tiny)
results=()
for recipe in ${recipes}; do
  [ -x "${recipe}/run.sh" ] || { echo "run_all.sh: ${recipe}/run.sh not found" >&2; exit 1; }
  echo "run_all.sh: ${recipe}: stages ${stage}-${stop_stage}" >&2
  (cd "${recipe}" && ./run.sh --stage "${stage}" --stop_stage "${stop_stage}" --ngpu "${ngpu}" "${check[@]}")
  json=${recipe}/RESULTS.json
  ${smoke} && json=${recipe}/exp/tiny/RESULTS.json
  [ -f "${json}" ] && results+=("${json}")
done
if [ ${#results[@]} -gt 0 ]; then
  python -m osum.bin.gather_results --out RESULTS_ALL.md "${results[@]}" >/dev/null
  cat RESULTS_ALL.md
fi
