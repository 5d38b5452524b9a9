#!/usr/bin/env bash
# osum_multitask: one ASR+X model on every source of conf/sources.txt, decoded on all
# their test sets; RESULTS.md ends with the OSUM report's table beside ours.
# Corpora: db.sh (through the source recipes); models: utils/download_pretrained.sh or
# pretrained.sh. See README.md.
#   ./run.sh                 OSUM's three phases, Whisper-medium + Qwen2-7B-Instruct, 1 GPU
#   ./run.sh --tiny          the CPU check: tiny random models, one short phase (osum.sh --tiny)
set -euo pipefail

sources=conf/sources.txt
test_sets=$(awk '!/^#/ && NF >= 4 { for (i = 4; i <= NF; i++) printf "%s_%s ", $1, $i }' "${sources}")

./osum.sh \
  --train_set train --valid_set dev --test_sets "${test_sets}" \
  --task_conf conf/tasks.yaml --reference conf/paper.yaml --local_data_opts "--sources ${sources}" \
  --ngpu 1 --feats_type whisper_mel --batch_size 16 "$@"
