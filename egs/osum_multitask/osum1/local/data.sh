#!/usr/bin/env bash
# The ASR+X mixture (conf/sources.txt): each source recipe's stage 1 (skipped where
# done), its training data mixed with its weight into data/train, the dev sets into
# data/dev, and its test sets copied as data/<recipe>_<set> (all a source has where its
# weight is -: evaluation only).
# Usage: local/data.sh [--sources conf/sources.txt] [--run_sources true]
set -euo pipefail
sources=conf/sources.txt    # recipe, weight, dev set, test sets a line
run_sources=true            # run each source's stage 1 first (false: use its data/ as it is)
. utils/parse_options.sh

train=(); dev=()
while read -r name weight dev_set tests; do
  case "${name}" in ''|'#'*) continue ;; esac
  src=../../${name}/osum1
  [ -x "${src}/run.sh" ] || { echo "local/data.sh: ${sources}: no recipe ${src}" >&2; exit 1; }
  # a source prepared before (with its own options) is used as it is
  if ${run_sources} && [ ! -f "${src}/data/.stage1.done" ]; then
    echo "local/data.sh: stage 1 of ${src}" >&2
    (cd "${src}" && ./run.sh --stage 1 --stop_stage 1)
  fi
  sets=(${tests})
  if [ "${weight}" = - ]; then  # evaluation only: test sets, nothing to train on
    [ "${dev_set}" = - ] || { echo "local/data.sh: ${sources}: ${name} has weight - (evaluation" \
      "only) but dev set ${dev_set}: write - for both" >&2; exit 1; }
  else
    sets+=(train "${dev_set}")
    train+=("${src}/data/train:${weight}")
    dev+=("${src}/data/${dev_set}")
  fi
  for set in "${sets[@]}"; do
    [ -f "${src}/data/${set}/utt2taskinfo" ] || {
      echo "local/data.sh: ${src}/data/${set} is not prepared (run its stage 1)" >&2; exit 1; }
  done
  for set in ${tests}; do
    rm -rf "data/${name}_${set}"
    mkdir -p data
    cp -r "${src}/data/${set}" "data/${name}_${set}"
  done
done < "${sources}"
python -m osum.bin.mix_data --out data/train "${train[@]}" > data/train.mix.json
python -m osum.bin.mix_data --out data/dev "${dev[@]}" > data/dev.mix.json
