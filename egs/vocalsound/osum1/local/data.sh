#!/usr/bin/env bash
# VocalSound -> data/{train,dev,test} (the official speaker-disjoint tr/val/te splits)
# for VED, plus SGC and SAP from the speaker metadata. Corpus path: db.sh (VOCALSOUND).
# Usage: local/data.sh [--tasks "VED SGC SAP"]
set -euo pipefail
tasks="VED SGC SAP"     # each task gets its own copy of a clip (<spk>-<session>_<sound>-ved, ...)
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

# the test and dev sets first: a layout problem in them shows before the long training pass
for pair in te:test val:dev tr:train; do
  # shellcheck disable=SC2086
  python -m osum.corpora.vocalsound --root "${VOCALSOUND}" --split "${pair%%:*}" --tasks ${tasks} \
    --label_map "${label_map}" --out "data/${pair#*:}"
done
