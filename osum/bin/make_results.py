#!/usr/bin/env python3
"""Write a recipe's RESULTS.md (and RESULTS.json) from its scored decode dirs.

python -m osum.bin.make_results --out RESULTS.md --title "mini_osum" exp/osum1 [exp/...]
"""

import argparse

from osum.scoring.results import collect, write_results


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="RESULTS.md")
    parser.add_argument("--title", default="Results")
    parser.add_argument("--commands", default="", help="the commands behind the figures")
    parser.add_argument("exp_dirs", nargs="+")
    args = parser.parse_args(cmd)
    entries = collect(args.exp_dirs)
    if not entries:
        parser.error(f"no */scores/result.json under {args.exp_dirs}")
    print(write_results(entries, args.out, args.title, args.commands))


if __name__ == "__main__":
    main()
