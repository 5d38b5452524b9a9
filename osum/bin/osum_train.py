#!/usr/bin/env python3
"""Train an OSUM model with ESPnet's trainer: ``python -m osum.bin.osum_train --help``."""

from osum.cli import run
from osum.train.task import main

if __name__ == "__main__":
    run(main)
