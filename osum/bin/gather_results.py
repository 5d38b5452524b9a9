#!/usr/bin/env python3
"""One cross-corpus table from every recipe's RESULTS.json.

python -m osum.bin.gather_results --out RESULTS_ALL.md egs/*/osum1/RESULTS.json
"""

import argparse

from osum.cli import run
from osum.scoring.results import gather


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="RESULTS_ALL.md")
    parser.add_argument("results_json", nargs="+")
    args = parser.parse_args(cmd)
    print(gather(args.results_json, args.out))


if __name__ == "__main__":
    run(main)
