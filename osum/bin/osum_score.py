#!/usr/bin/env python3
"""Score a decode dir against its data dir, per task; writes <decode_dir>/scores/.

    python -m osum.bin.osum_score --decode_dir exp/osum/decode_test --data_dir data/test
        [--normalizer osum|osum_nopunct|whisper_en] [--task_conf conf.yaml]
        [--judge_url http://host:port/v1 --judge_model NAME --judge_api_key_env VAR]

The judge (STTC replies rated by an LLM through an OpenAI-compatible endpoint) is off
unless --judge_url is given.
"""

import argparse
import json
import os

from osum.asrx.registry import load_registry
from osum.cli import run
from osum.scoring.score import openai_judge, score


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decode_dir", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--out_dir", default=None, help="default: <decode_dir>/scores")
    parser.add_argument(
        "--normalizer", default="osum", choices=["osum", "osum_nopunct", "whisper_en"]
    )
    parser.add_argument("--task_conf", default=None, help="YAML: build_registry() arguments")
    parser.add_argument("--judge_url", default=None)
    parser.add_argument("--judge_model", default=None)
    parser.add_argument("--judge_api_key_env", default="OPENAI_API_KEY")
    args = parser.parse_args(cmd)
    for option, path in (("--decode_dir", args.decode_dir), ("--data_dir", args.data_dir)):
        if not os.path.isdir(path):  # before scores/ is made in a dir that is not there
            parser.error(f"{option} {path}: no such dir")
    judge = None
    if args.judge_url:
        judge = openai_judge(
            args.judge_url, args.judge_model, os.environ.get(args.judge_api_key_env)
        )
    summary = score(
        args.decode_dir,
        args.data_dir,
        load_registry(args.task_conf),
        args.normalizer,
        judge,
        args.out_dir,
    )
    print(json.dumps(summary, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    run(main)
