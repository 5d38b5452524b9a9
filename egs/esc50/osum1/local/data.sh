#!/usr/bin/env bash
# ESC-50 -> data/{train,dev,test} for VED by folds: test one fold, dev the next, train
# the other three (ESC-50's clips of one source recording share a fold).
# Corpus path: db.sh (ESC50). Events: conf/labels.yaml.
# Usage: local/data.sh [--test_fold 5]
set -euo pipefail
test_fold=5             # 1-5; five-fold cross-validation runs each in turn
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

dev_fold=$(( test_fold % 5 + 1 ))
train_folds=$(for n in 1 2 3 4 5; do [ "$n" = "${test_fold}" ] || [ "$n" = "${dev_fold}" ] || echo -n "$n "; done)
# the test and dev sets first: a layout problem in them shows before the long training pass
for pair in "${test_fold}:test" "${dev_fold}:dev" "${train_folds}:train"; do
  # shellcheck disable=SC2086
  python -m osum.corpora.esc50 --root "${ESC50}" --folds ${pair%%:*} --label_map "${label_map}" \
    --out "data/${pair#*:}"
done
