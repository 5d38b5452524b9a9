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
from osum.cli import run
from osum.dev.tiny_models import add_size_options, build_tiny_models, size_options, tokenizer_text


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--out", default="models")
    parser.add_argument("--task_conf", default=None, help="YAML: build_registry() arguments")
    parser.add_argument("--n_mels", type=int, default=80, choices=[80, 128])
    add_size_options(parser)
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
        **size_options(args),
        n_mels=args.n_mels,
        seed=args.seed,
    )
    print(json.dumps({"llm": str(llm), "whisper": str(whisper), "tokenizer_lines": len(text)}))


if __name__ == "__main__":
    run(main)
