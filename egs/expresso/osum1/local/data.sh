#!/usr/bin/env bash
# Expresso -> data/{train,dev,test} (the official splits) for SSR on the read speech,
# styles mapped by conf/labels.yaml. Corpus path: db.sh (EXPRESSO).
# Usage: local/data.sh [--label_map conf/labels.yaml]
set -euo pipefail
label_map=conf/labels.yaml
. utils/parse_options.sh
. ./db.sh

# the test and dev sets first: a layout problem in them shows before the long training pass
for split in test dev train; do
  python -m osum.corpora.expresso --root "${EXPRESSO}" --split "${split}" --label_map "${label_map}" \
    --out "data/${split}"
done
