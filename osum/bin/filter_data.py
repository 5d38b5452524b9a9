#!/usr/bin/env python3
"""Drop utterances whose audio or target is too long (OSUM: 29 s, 200 tokens).

Usage: python -m osum.bin.filter_data [--max_seconds 29]
           [--tokenizer LLM_DIR [--max_target_tokens 200]] [--task_conf conf.yaml]
           <src-dir> <out-dir>
Writes the kept utterances to <out-dir>, the dropped ones with reasons to
<out-dir>/dropped, and prints a report. Target lengths need --tokenizer (the LLM's, which
counts them): --max_target_tokens without it is an error, not a filter that drops nothing.
"""

import argparse
import json
import sys

import yaml

from osum.cli import positive_float, positive_int, run
from osum.data.kaldi import DataError
from osum.data.mix import filter_data_dir, target_token_counter

MAX_TARGET_TOKENS = 200  # OSUM's


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max_seconds", type=positive_float, default=29.0)
    parser.add_argument(
        "--max_target_tokens",
        type=positive_int,
        default=None,
        help=f"needs --tokenizer (default with it: {MAX_TARGET_TOKENS})",
    )
    parser.add_argument("--tokenizer", default=None, help="LLM dir (for target lengths)")
    parser.add_argument("--task_conf", default=None, help="YAML: build_registry() arguments")
    parser.add_argument("src")
    parser.add_argument("out")
    args = parser.parse_args()
    if args.max_target_tokens is not None and not args.tokenizer:
        parser.error("--max_target_tokens needs --tokenizer (the LLM dir that counts the tokens)")
    if args.tokenizer and args.max_target_tokens is None:
        args.max_target_tokens = MAX_TARGET_TOKENS
    task_conf = None
    if args.task_conf:
        with open(args.task_conf, encoding="utf-8") as f:
            task_conf = yaml.safe_load(f)
    count = target_token_counter(args.tokenizer, task_conf) if args.tokenizer else None
    try:
        report = filter_data_dir(
            args.src, args.out, args.max_seconds, args.max_target_tokens, count
        )
    except DataError as e:
        sys.exit(f"filter_data: {e}")
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    run(main, output=-1)
