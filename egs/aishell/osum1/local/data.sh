#!/usr/bin/env bash
# AISHELL-1 -> data/{train,dev,test} for ASR and SGC (speaker sex, resource_aishell).
# Corpus path: db.sh (AISHELL).
# Usage: local/data.sh [--tasks "ASR SGC"] [--train_fractions "SGC=0.2"]
set -euo pipefail
tasks="ASR SGC"                 # each task gets its own copy of an utterance
train_fractions="SGC=0.2"       # share of the training utterances a task copies
. utils/parse_options.sh
. ./db.sh

fractions=()
for f in ${train_fractions}; do fractions+=(--fraction "$f"); done
# the test and dev sets first: a layout problem in them shows before the long training pass
for split in test dev train; do
  opts=()
  [ "${split}" = train ] && opts=("${fractions[@]}")
  # shellcheck disable=SC2086
  python -m osum.corpora.aishell --root "${AISHELL}" --split "${split}" --tasks ${tasks} \
    "${opts[@]}" --label_map conf/labels.yaml --out "data/${split}"
done
