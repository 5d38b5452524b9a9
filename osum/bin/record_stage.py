#!/usr/bin/env python3
"""Record how a recipe stage ran, for RESULTS.md: <exp>/stages/<stage>.json.

python -m osum.bin.record_stage --exp_dir exp/osum --stage 3 --seconds 812 --command "./run.sh"

The record holds the command, the git commit of osum's checkout, the machine (CPU model
and cores, GPUs), the GPUs asked for, the wall time and when the stage finished.
"""

import argparse

from osum.cli import non_negative_int, run
from osum.scoring.results import record_stage


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--exp_dir", required=True)
    parser.add_argument("--stage", type=non_negative_int, required=True)
    parser.add_argument(
        "--seconds", type=non_negative_int, required=True, help="the stage's wall time"
    )
    parser.add_argument("--command", required=True, help="the command line that ran it")
    parser.add_argument("--ngpu", type=non_negative_int, default=0)
    args = parser.parse_args(cmd)
    record_stage(args.exp_dir, args.stage, args.seconds, args.command, args.ngpu)


if __name__ == "__main__":
    run(main)
