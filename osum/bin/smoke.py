#!/usr/bin/env python3
"""Training smoke run: synthetic speech, tiny models, OSUM's three phases via osum_train."""

import argparse
import json

from osum.dev.smoke import run_smoke


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="exp/smoke", help="output directory")
    parser.add_argument("--epochs", type=int, default=2, help="epochs per phase")
    args = parser.parse_args()
    print(json.dumps(run_smoke(args.out, args.epochs), indent=1))


if __name__ == "__main__":
    main()
