#!/usr/bin/env bash
# Expresso: SSR with the corpus's own styles (conf/tasks.yaml), on its read speech.
# Corpus: db.sh; models: pretrained.sh. See README.md.
#   ./run.sh                 OSUM's three phases, Whisper-medium + Qwen2-7B-Instruct, 1 GPU
#   ./run.sh --tiny          the CPU check: tiny random models, one short phase
set -euo pipefail

phases="1_adapter:conf/train_1_adapter.yaml 2_encoder:conf/train_2_encoder.yaml 3_lora:conf/train_3_lora.yaml"
opts=(--ngpu 1 --feats_type whisper_mel --batch_size 16)
args=()
for a in "$@"; do
  if [ "$a" = --tiny ]; then
    phases="1_all:conf/tiny.yaml"
    opts=(--tiny_models models --exp_tag tiny --nj 2 --decode_nj 2)
  else
    args+=("$a")
  fi
done

./osum.sh \
  --train_set train --valid_set dev --test_sets test --task_conf conf/tasks.yaml \
  --train_phases "${phases}" "${opts[@]}" "${args[@]}"
