#!/usr/bin/env bash
# MELD -> data/{train,dev,test} for SER, emotions mapped by conf/labels.yaml.
# Corpus path: db.sh (MELD: the MELD.Raw dir with its inner archives extracted).
# Usage: local/data.sh [--label_map conf/labels.yaml]
set -euo pipefail
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

# the test and dev sets first: a layout problem in them shows before the long training pass
for split in test dev train; do
  python -m osum.corpora.meld --root "${MELD}" --split "${split}" --label_map "${label_map}" \
    --out "data/${split}"
done
