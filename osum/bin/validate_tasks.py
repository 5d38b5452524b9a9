#!/usr/bin/env python3
"""Check a data dir's task files (utt2task, utt2<label>, ctm, utt2answer).

Usage: python -m osum.bin.validate_tasks [--task_conf conf.yaml] <data-dir>
Prints every problem with its file and line and exits 1, or prints nothing and exits 0.
"""

import argparse
import sys

from osum.asrx.registry import load_registry
from osum.cli import run
from osum.data.task_files import validate_task_files


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--task_conf", default=None, help="YAML: build_registry() arguments")
    parser.add_argument("data_dir")
    args = parser.parse_args()
    errors = validate_task_files(args.data_dir, load_registry(args.task_conf))
    for e in errors:
        print(f"validate_tasks: {e}", file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    run(main)
