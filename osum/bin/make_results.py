#!/usr/bin/env python3
"""Write a recipe's RESULTS.md (and RESULTS.json) from its scored decode dirs.

python -m osum.bin.make_results --out RESULTS.md --title "mini_osum" --test_sets "test" exp/osum1

The stage records of the first experiment (``<exp>/stages/*.json``, from
osum.bin.record_stage) head the file: each stage's command, commit, machine and wall time.
"""

import argparse
import sys

from osum.cli import run
from osum.scoring.results import collect, read_stages, write_results


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--out", default="RESULTS.md")
    parser.add_argument("--title", default="Results")
    parser.add_argument(
        "--test_sets", default=None, help="the sets to list (default: every decode_*)"
    )
    parser.add_argument("--commands", default="", help="the commands, when no stage is recorded")
    parser.add_argument("exp_dirs", nargs="+")
    args = parser.parse_args(cmd)
    sets = args.test_sets.split() if args.test_sets is not None else None
    try:
        entries = collect(args.exp_dirs, sets)
    except FileNotFoundError as e:
        sys.exit(f"make_results: {e}")
    if not entries:
        parser.error(f"no */scores/result.json under {args.exp_dirs}")
    stages = read_stages(args.exp_dirs[0])
    print(write_results(entries, args.out, args.title, args.commands, stages))


if __name__ == "__main__":
    run(main)
