#!/usr/bin/env python3
"""Tiny random-weight Whisper and Qwen2 models for a recipe's CPU config.

python -m osum.bin.tiny_models --out models data/train [data/dev ...]

Writes ``<out>/whisper`` and ``<out>/qwen2`` with ``save_pretrained``; the tokenizer is a
byte-level BPE with Qwen2's special tokens, trained on the data dirs' transcripts and
answers and on the task prompts and labels. It checks the recipe end to end on any
machine; it is not a model to report.
"""

import argparse
import json
import sys

from osum.asrx.registry import load_registry
from osum.cli import positive_float, positive_int, run
from osum.dev.tiny_models import build_tiny_models, tokenizer_text


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--out", default="models")
    parser.add_argument("--task_conf", default=None, help="YAML: build_registry() arguments")
    parser.add_argument("--n_mels", type=int, default=80, choices=[80, 128])
    parser.add_argument("--whisper_dim", type=positive_int, default=128)
    parser.add_argument("--whisper_layers", type=positive_int, default=2)
    parser.add_argument("--whisper_init_std", type=positive_float, default=0.1)
    parser.add_argument("--llm_dim", type=positive_int, default=128)
    parser.add_argument("--llm_layers", type=positive_int, default=4)
    parser.add_argument("--vocab_size", type=positive_int, default=1000, help="BPE vocabulary")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("data_dirs", nargs="+")
    args = parser.parse_args(cmd)
    try:
        text = tokenizer_text(args.data_dirs, load_registry(args.task_conf))
    except (OSError, ValueError) as e:
        sys.exit(f"tiny_models: {e}")
    llm, whisper = build_tiny_models(
        args.out,
        text,
        whisper_dim=args.whisper_dim,
        whisper_layers=args.whisper_layers,
        whisper_init_std=args.whisper_init_std,
        llm_dim=args.llm_dim,
        llm_layers=args.llm_layers,
        vocab_size=args.vocab_size,
        n_mels=args.n_mels,
        seed=args.seed,
    )
    print(json.dumps({"llm": str(llm), "whisper": str(whisper), "tokenizer_lines": len(text)}))


if __name__ == "__main__":
    run(main)
