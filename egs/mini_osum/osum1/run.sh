#!/usr/bin/env bash
# mini_osum: synthetic English/Mandarin speech (espeak-ng + sox) and tiny random-weight
# models; runs anywhere, CPU included, with nothing to download.
set -euo pipefail

./osum.sh \
  --train_set train --valid_set dev --test_sets test \
  --local_data_opts "--train 60 --dev 10 --test 10" \
  --feats_type raw --nj 2 --decode_nj 2 \
  --train_phases "1_adapter:conf/train_adapter.yaml 2_encoder:conf/train_encoder.yaml 3_lora:conf/train_lora.yaml" \
  --exp_tag osum "$@"
