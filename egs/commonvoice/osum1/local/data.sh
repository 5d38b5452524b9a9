#!/usr/bin/env bash
# Common Voice -> data/{train,dev,test} for SAP and SGC (and ASR with --tasks), with the
# labels mapped by conf/labels.yaml. Corpus path: db.sh (COMMONVOICE): an official
# release's language dir or the dir of Kaggle's cv-valid-*.csv files.
# Usage: local/data.sh [--tasks "SAP SGC"] [--train_fractions "SAP=1 SGC=1"]
set -euo pipefail
tasks="SAP SGC"                 # each task gets its own copy of a clip
train_fractions=""              # e.g. "ASR=0.1": share of the training clips a task copies
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

fractions=()
for f in ${train_fractions}; do fractions+=(--fraction "$f"); done
# the test and dev sets first: a layout problem in them shows before the long training pass
for split in test dev train; do
  opts=()
  [ "${split}" = train ] && opts=("${fractions[@]}")
  # shellcheck disable=SC2086
  python -m osum.corpora.commonvoice --root "${COMMONVOICE}" --split "${split}" --tasks ${tasks} \
    --label_map "${label_map}" "${opts[@]}" --out "data/${split}"
done
