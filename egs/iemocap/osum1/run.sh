#!/usr/bin/env bash
# IEMOCAP: SER, four classes, tested on session 5 (--local_data_opts "--test_sessions N"
# for the other folds; local/data.sh for the other options). Corpus: db.sh; models:
# utils/download_pretrained.sh or pretrained.sh. See README.md.
#   ./run.sh                 OSUM's three phases, Whisper-medium + Qwen2-7B-Instruct, 1 GPU
#   ./run.sh --tiny          the CPU check: tiny random models, one short phase (osum.sh --tiny)
set -euo pipefail

./osum.sh \
  --train_set train --valid_set dev --test_sets test \
  --ngpu 1 --feats_type whisper_mel --batch_size 16 "$@"
