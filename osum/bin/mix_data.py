#!/usr/bin/env python3
"""Mix data dirs into one training set, each with a weight (repeat factor), as OSUM does.

Usage: python -m osum.bin.mix_data --out data/train_mix data/a:2 data/b data/c:0.5
Writes the mixed data dir (utt2taskinfo included when the sources have it) and prints the
utterances and hours per task and per source (also in <out>/mix_report.json).
"""

import argparse
import json
import sys

from osum.cli import run
from osum.data.kaldi import DataError
from osum.data.mix import mix_data_dirs


def source(arg: str):
    path, _, weight = arg.rpartition(":") if ":" in arg else (arg, "", "1")
    try:
        return path, float(weight)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{arg}: expected DIR or DIR:WEIGHT") from None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("sources", nargs="+", type=source, help="DIR[:WEIGHT]")
    args = parser.parse_args()
    try:
        report = mix_data_dirs(args.sources, args.out)
    except DataError as e:
        sys.exit(f"mix_data: {e}")
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    run(main)
