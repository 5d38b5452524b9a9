#!/usr/bin/env bash
# IEMOCAP -> data/{train,dev,test} for SER, split by session (a session's two actors are
# in one set only): by default leave-one-session-out, session 5 the test set, the other
# four the training set less a tenth of their dialogs, which make the dev set. The
# sessions are checked (1-5, none in two sets, each set non-empty) before anything is read.
# Corpus path: db.sh (IEMOCAP). Emotions: conf/labels.yaml.
# Usage: local/data.sh [--test_sessions "5"] [--dev_sessions "4"] [--train_sessions "1 2 3"]
#                      [--dev_share 0.1] [--tasks "SER SGC"]
set -euo pipefail
test_sessions=5         # the sessions to test on (1-5); cross-validation runs each in turn
dev_sessions=""         # sessions of the dev set; empty: --dev_share of the training dialogs
train_sessions=""       # empty: every session in neither the test nor the dev sessions
dev_share=0.1           # without --dev_sessions: share of the training dialogs in data/dev
tasks="SER"             # SGC adds a copy of each turn for gender
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

read -r -a test <<< "${test_sessions}"
read -r -a dev <<< "${dev_sessions}"
read -r -a train <<< "${train_sessions}"
read -r -a task_list <<< "${tasks}"
opts=(--test_sessions "${test[@]}")
if [ ${#dev[@]} -gt 0 ]; then opts+=(--dev_sessions "${dev[@]}"); else opts+=(--dev_share "${dev_share}"); fi
[ ${#train[@]} -gt 0 ] && opts+=(--train_sessions "${train[@]}")
python -m osum.corpora.iemocap --root "${IEMOCAP}" "${opts[@]}" --tasks "${task_list[@]}" \
  --label_map "${label_map}" --out data
