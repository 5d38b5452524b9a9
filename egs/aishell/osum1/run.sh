#!/usr/bin/env bash
# AISHELL-1: ASR (CER on test) and SGC (speaker sex; OSUM reports SGC on AISHELL-1 test).
# Corpus: db.sh; models: utils/download_pretrained.sh or pretrained.sh. See README.md.
#   ./run.sh                 OSUM's three phases, Whisper-medium + Qwen2-7B-Instruct, 1 GPU
#   ./run.sh --tiny          the CPU check: tiny random models, one short phase (osum.sh --tiny)
set -euo pipefail

./osum.sh \
  --train_set train --valid_set dev --test_sets test \
  --ngpu 1 --feats_type whisper_mel --batch_size 16 "$@"
