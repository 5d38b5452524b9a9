#!/usr/bin/env bash
# LibriSpeech -> data/<set> for ASR, SGC (reader gender, SPEAKERS.TXT) and SRWT (MFA word
# times). Corpus paths: db.sh (LIBRISPEECH, LIBRISPEECH_ALIGNMENTS).
# Usage: local/data.sh [--train_subsets "train-clean-100 train-clean-360 train-other-500"]
#                      [--tasks "ASR SGC SRWT"] [--train_fractions "SGC=0.2 SRWT=0.2"]
set -euo pipefail
train_subsets="train-clean-100"       # one training dir, data/train, from these subsets
tasks="ASR SGC SRWT"                  # each task gets its own copy of an utterance
train_fractions="SGC=0.2 SRWT=0.2"    # share of the training utterances a task copies
. utils/parse_options.sh
. ./db.sh

fractions=()
for f in ${train_fractions}; do fractions+=(--fraction "$f"); done
# the test and dev sets first: a layout problem in them shows before the long training pass
for subset in test-clean test-other dev-clean; do
  # shellcheck disable=SC2086
  python -m osum.corpora.librispeech --root "${LIBRISPEECH}" --alignments "${LIBRISPEECH_ALIGNMENTS}" \
    --subsets "${subset}" --tasks ${tasks} --label_map conf/labels.yaml --out "data/${subset//-/_}"
done
# shellcheck disable=SC2086
python -m osum.corpora.librispeech --root "${LIBRISPEECH}" --alignments "${LIBRISPEECH_ALIGNMENTS}" \
  --subsets ${train_subsets} --tasks ${tasks} "${fractions[@]}" --label_map conf/labels.yaml \
  --out data/train
