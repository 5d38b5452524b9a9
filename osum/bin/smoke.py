#!/usr/bin/env python3
"""The quick check: a recipe's ``--tiny`` run (tiny random models, one short phase).

python -m osum.bin.smoke [--recipe egs/mini_osum/osum1] [--epochs N] [run.sh options ...]

Runs ``./run.sh --tiny`` in the recipe (default: the mini recipe, which needs no
download): its data (shared with its full run), exp/tiny/ and exp/tiny/RESULTS.md. It
checks that every stage works on this machine; its figures are not a model's.
"""

import argparse
import subprocess
import sys
from pathlib import Path

from osum.cli import positive_int, run

MINI = Path(__file__).resolve().parents[2] / "egs" / "mini_osum" / "osum1"


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--recipe", default=str(MINI), help="a recipe dir (with run.sh)")
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help="training epochs (conf/tiny.yaml's)"
    )
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)  # before: its own dir
    args, run_opts = parser.parse_known_args(cmd)
    recipe = Path(args.recipe)
    if not (recipe / "run.sh").is_file():
        sys.exit(f"smoke: {recipe}/run.sh not found")
    if args.out is not None:
        print(f"smoke: --out is not used: the check writes into {recipe}/exp/tiny", file=sys.stderr)
    if args.epochs is not None:
        run_opts += ["--train_args", f"--max_epoch {args.epochs}"]
    sys.exit(subprocess.run(["./run.sh", "--tiny", *run_opts], cwd=recipe).returncode)


if __name__ == "__main__":
    run(main)
