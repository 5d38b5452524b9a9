#!/usr/bin/env bash
# AIR-Bench -> data/test: its chat benchmark's speech items as STTC (question after the
# prompt, answer_gt as the reference). Corpus path: db.sh (AIRBENCH).
set -euo pipefail
. utils/parse_options.sh
. ./db.sh
python -m osum.corpora.airbench --root "${AIRBENCH}" --out data/test
