#!/usr/bin/env bash
# AIR-Bench: STTC on the chat benchmark's speech items, evaluation only: stage 1-2
# prepare and dump data/test, stages 4-5 decode it with a model trained elsewhere
# (--model_dir, a training phase's dir holding config.yaml and --model_file) and score
# the replies (chrF and exact match; an LLM judge with --score_args "--judge_url ...").
# See README.md.
set -euo pipefail

model_dir=../../osum_multitask/osum1/exp/osum/3_lora   # the trained model's phase dir
model_file=valid.acc.ave.pth                           # its checkpoint
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model_dir) model_dir=$2; shift 2 ;;
    --model_file) model_file=$2; shift 2 ;;
    --tiny) echo "run.sh: evaluation only, nothing to train: decode a model (--model_dir)" >&2; exit 1 ;;
    *) args+=("$1"); shift ;;
  esac
done
if [ -f "${model_dir}/config.yaml" ]; then  # the model as a finished phase of exp/eval
  . ./path.sh
  python -m osum.bin.link_model --model_dir "${model_dir}" --model_file "${model_file}" \
    --out exp/eval/model
fi
if [ ! -f exp/eval/model/.done ]; then
  echo "run.sh: no trained model in ${model_dir} (--model_dir): stages 1-2 only" >&2
  args=(--stop_stage 2 "${args[@]}")
fi

./osum.sh \
  --train_set test --valid_set test --test_sets test --nj 2 --decode_nj 2 \
  --train_phases "model:-" --exp_tag eval --decode_model "${model_file}" "${args[@]}"
