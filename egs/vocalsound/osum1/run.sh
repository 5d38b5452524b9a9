#!/usr/bin/env bash
# VocalSound: VED (OSUM reports 82.58 % event accuracy), SGC and SAP from the speaker metadata.
# Corpus: db.sh; models:
# utils/download_pretrained.sh or pretrained.sh. See README.md.
#   ./run.sh                 OSUM's three phases, Whisper-medium + Qwen2-7B-Instruct, 1 GPU
#   ./run.sh --tiny          the CPU check: tiny random models, one short phase (osum.sh --tiny)
set -euo pipefail

./osum.sh \
  --train_set train --valid_set dev --test_sets test \
  --ngpu 1 --feats_type whisper_mel --batch_size 16 "$@"
