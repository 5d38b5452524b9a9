#!/usr/bin/env bash
# The main job. Installs what is missing (tools/install.sh), then runs end to end, offline:
#   synthetic English and Mandarin speech (espeak-ng + sox) in a Kaldi data dir,
#   tiny random-weight Whisper and Qwen2 models saved with save_pretrained,
#   OSUM's three training phases (adapter -> +encoder -> +LoRA) through ESPnet's trainer
#   (python -m osum.bin.osum_train), each initialised from the previous one,
#   and greedy decoding of the utterances with the final averaged model.
# Output: exp/smoke/ (logs train_*.log, models, configs, decode.json).
#
# Usage: ./run_all.sh [--out DIR] [--epochs N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
tools/install.sh
# shellcheck disable=SC1091
. tools/activate_python.sh
python -m osum.bin.smoke "$@"
