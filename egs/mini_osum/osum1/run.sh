#!/usr/bin/env bash
# mini_osum: all eight OSUM tasks on synthetic English/Mandarin speech (espeak-ng + sox)
# and tiny random-weight Whisper and Qwen2 models; runs anywhere, CPU included, with
# nothing to download. See README.md.
set -euo pipefail

./osum.sh \
  --train_set train --valid_set dev --test_sets test \
  --local_data_opts "--train 300 --dev 30 --test 60" \
  --feats_type raw --nj 2 --decode_nj 2 --batch_size 16 --decode_args "--beam_size 4 --ctc_weight 0.5" \
  --train_phases "1_encoder:conf/train_1_encoder.yaml 2_llm:conf/train_2_llm.yaml 2t_answers:conf/train_2t_answers.yaml 3_all:conf/train_3_all.yaml" \
  --exp_tag osum "$@"
