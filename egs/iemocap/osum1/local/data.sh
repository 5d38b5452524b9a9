#!/usr/bin/env bash
# IEMOCAP -> data/{train,dev,test} for SER, leave-one-session-out: the test session is
# held out whole, and a share of the other sessions' dialogs makes the dev set.
# Corpus path: db.sh (IEMOCAP). Emotions: conf/labels.yaml.
# Usage: local/data.sh [--test_session 5] [--dev_share 0.1] [--tasks "SER SGC"]
set -euo pipefail
test_session=5          # the session to test on (1-5); cross-validation runs each in turn
dev_share=0.1           # share of the training sessions' dialogs in data/dev
tasks="SER"             # SGC adds a copy of each turn for gender
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

train_sessions=$(for n in 1 2 3 4 5; do [ "$n" = "${test_session}" ] || echo -n "$n "; done)
# the test session first: a layout problem in it shows before the long training pass
# shellcheck disable=SC2086
python -m osum.corpora.iemocap --root "${IEMOCAP}" --sessions "${test_session}" --tasks ${tasks} \
  --label_map "${label_map}" --out data/test
# shellcheck disable=SC2086
python -m osum.corpora.iemocap --root "${IEMOCAP}" --sessions ${train_sessions} --tasks ${tasks} \
  --label_map "${label_map}" --hold_out "${dev_share}" --hold_out_dir data/dev --out data/train
