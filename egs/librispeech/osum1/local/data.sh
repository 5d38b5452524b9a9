#!/usr/bin/env bash
# LibriSpeech -> data/<set> for ASR, SGC (reader gender, SPEAKERS.TXT) and SRWT (MFA word
# times): data/train from the training subsets, data/<subset> (dev_clean, test_other, ...)
# from each dev and test subset. Only the subsets named are read, so a corpus with some of
# them is enough; one named but missing stops it, before anything is written, with a line
# saying which and where it was looked for. Corpus paths: db.sh (LIBRISPEECH,
# LIBRISPEECH_ALIGNMENTS).
# Usage: local/data.sh [--train_subsets "train-clean-100 train-clean-360 train-other-500"]
#                      [--dev_subsets "dev-clean"] [--test_subsets "test-clean test-other"]
#                      [--tasks "ASR SGC SRWT"] [--train_fractions "SGC=0.2 SRWT=0.2"]
#   e.g. with test-clean only besides the training data (run.sh's sets to match):
#   ./run.sh --valid_set test_clean --test_sets test_clean \
#     --local_data_opts "--dev_subsets '' --test_subsets test-clean"
set -euo pipefail
train_subsets="train-clean-100"        # one training dir, data/train, from these ("": none)
dev_subsets="dev-clean"                # a dir each, data/dev_clean ...
test_subsets="test-clean test-other"   # a dir each, data/test_clean ...
tasks="ASR SGC SRWT"                   # each task gets its own copy of an utterance
train_fractions="SGC=0.2 SRWT=0.2"     # share of the training utterances a task copies
. utils/parse_options.sh
. ./db.sh

read -r -a train <<< "${train_subsets}"
read -r -a sets <<< "${test_subsets} ${dev_subsets}"
read -r -a task_list <<< "${tasks}"
[ $(( ${#train[@]} + ${#sets[@]} )) -gt 0 ] || {
  echo "local/data.sh: no subset to prepare (--train_subsets, --dev_subsets, --test_subsets)" >&2
  exit 1; }
fractions=()
for f in ${train_fractions}; do fractions+=(--fraction "$f"); done
common=(--root "${LIBRISPEECH}" --alignments "${LIBRISPEECH_ALIGNMENTS}" --tasks "${task_list[@]}"
        --label_map conf/labels.yaml)
# every subset asked for is there (and what the tasks need), before the long passes
python -m osum.corpora.librispeech "${common[@]}" --subsets "${sets[@]}" "${train[@]}" --check_only
# the test and dev sets first: a problem in them shows before the long training pass
for subset in "${sets[@]}"; do
  python -m osum.corpora.librispeech "${common[@]}" --subsets "${subset}" --out "data/${subset//-/_}"
done
if [ ${#train[@]} -gt 0 ]; then
  python -m osum.corpora.librispeech "${common[@]}" --subsets "${train[@]}" "${fractions[@]}" \
    --out data/train
fi
