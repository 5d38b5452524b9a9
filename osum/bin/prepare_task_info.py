#!/usr/bin/env python3
"""Validate a data dir's task files and write its utt2taskinfo (the training input).

Usage: python -m osum.bin.prepare_task_info [--task_conf conf.yaml] <data-dir>
"""

import argparse
import sys

from osum.asrx.registry import load_registry
from osum.cli import run
from osum.data.kaldi import DataError
from osum.data.task_files import write_task_info


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task_conf", default=None, help="YAML: build_registry() arguments")
    parser.add_argument("data_dir")
    args = parser.parse_args()
    try:
        out = write_task_info(args.data_dir, load_registry(args.task_conf))
    except DataError as e:
        for line in str(e).splitlines():
            print(f"prepare_task_info: {line}", file=sys.stderr)
        sys.exit(1)
    print(f"prepare_task_info: wrote {out}")


if __name__ == "__main__":
    run(main)
