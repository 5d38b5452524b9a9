#!/usr/bin/env bash
# LibriSpeech: ASR (WER on test-clean / test-other), SGC (reader gender), SRWT (MFA word
# times). Corpus: db.sh; models: utils/download_pretrained.sh or pretrained.sh. See README.md.
#   ./run.sh                 OSUM's three phases, Whisper-medium + Qwen2-7B-Instruct, 1 GPU
#   ./run.sh --tiny          the CPU check: tiny random models, one short phase (osum.sh --tiny)
set -euo pipefail

./osum.sh \
  --train_set train --valid_set dev_clean --test_sets "test_clean test_other" \
  --ngpu 1 --feats_type whisper_mel --batch_size 16 "$@"
