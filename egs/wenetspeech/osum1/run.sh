#!/usr/bin/env bash
# WenetSpeech: ASR (CER on test_net and test_meeting; OSUM reports 6.46 / 5.34 %).
# Corpus: db.sh; models: utils/download_pretrained.sh or pretrained.sh. See README.md.
#   ./run.sh                 OSUM's three phases, Whisper-medium + Qwen2-7B-Instruct, 1 GPU
#   ./run.sh --tiny          the CPU check: tiny random models, one short phase (osum.sh --tiny)
set -euo pipefail

./osum.sh \
  --train_set train --valid_set dev --test_sets "test_net test_meeting" \
  --ngpu 1 --feats_type whisper_mel --batch_size 16 "$@"
