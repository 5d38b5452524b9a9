#!/usr/bin/env bash
# WenetSpeech -> data/{train_<size>,dev,test_net,test_meeting} for ASR, in one pass over
# WenetSpeech.json. Corpus path: db.sh (WENETSPEECH).
# Usage: local/data.sh [--train_subset S|M|L]
set -euo pipefail
train_subset=S          # S (100 h), M (1,000 h) or L (10,000 h)
. utils/parse_options.sh
. ./db.sh

size=$(echo "${train_subset}" | tr '[:upper:]' '[:lower:]')
python -m osum.corpora.wenetspeech --root "${WENETSPEECH}" --subset "${train_subset}:data/train_${size}" \
  --subset DEV:data/dev --subset TEST_NET:data/test_net --subset TEST_MEETING:data/test_meeting
ln -sfn "train_${size}" data/train
