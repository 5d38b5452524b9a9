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
    *) args+=("$1"); shift ;;
  esac
done
# the model as a finished phase of exp/eval (osum.sh decodes the last phase); its config's
# relative model paths are relative to the recipe it comes from (<recipe>/exp/<tag>/<phase>)
if [ -f "${model_dir}/config.yaml" ]; then
  src=$(cd "${model_dir}" && pwd)
  [ -f "${src}/${model_file}" ] || { echo "run.sh: no ${model_file} in ${src} (--model_file)" >&2; exit 1; }
  . ./path.sh
  mkdir -p exp/eval/model
  python - "${src}/config.yaml" "$(cd "${src}/../../.." && pwd)" exp/eval/model/config.yaml <<'EOF'
import sys
from pathlib import Path

import yaml

from osum.task import resolve_paths

conf = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
resolve_paths(conf, Path(sys.argv[2]))
with open(sys.argv[3], "w", encoding="utf-8") as f:
    yaml.safe_dump(conf, f, allow_unicode=True, sort_keys=False)
EOF
  ln -sfn "${src}/${model_file}" "exp/eval/model/${model_file}"
  touch exp/eval/model/.done
fi
if [ ! -f exp/eval/model/.done ]; then
  echo "run.sh: no trained model in ${model_dir} (--model_dir): stages 1-2 only" >&2
  args=(--stop_stage 2 "${args[@]}")
fi

./osum.sh \
  --train_set test --valid_set test --test_sets test --nj 2 --decode_nj 2 \
  --train_phases "model:-" --exp_tag eval --decode_model "${model_file}" "${args[@]}"
