#!/usr/bin/env bash
# Synthesises data/{train,dev,test} and the tiny models in models/ (see osum/data/synthetic.py).
# Usage: local/data.sh [--train N] [--dev N] [--test N] [--seed S]   (sentences per split)
set -euo pipefail
python -m osum.bin.mini_corpus --data data --models models "$@"
