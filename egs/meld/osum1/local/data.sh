#!/usr/bin/env bash
# MELD -> data/{train,dev,test} for SER, emotions mapped by conf/labels.yaml.
# Corpus path: db.sh (MELD: the MELD.Raw dir with its inner archives extracted).
# Usage: local/data.sh [--label_map conf/labels.yaml]
set -euo pipefail
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

for split in train dev test; do
  python -m osum.corpora.meld --root "${MELD}" --split "${split}" --label_map "${label_map}" \
    --out "data/${split}"
done
