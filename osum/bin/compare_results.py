#!/usr/bin/env python3
"""A results table laid out like a paper's, with its numbers beside this run's.

python -m osum.bin.compare_results --reference conf/paper.yaml exp/osum >> RESULTS.md

The reference YAML lists the rows: the paper's task, metric and test set, where this
run's figure is (``set``: the decode set, ``score``: a dotted path in its scores.json
``tasks``, e.g. ``SER.emotion.accuracy``), and the paper's numbers under ``columns``:

    title: OSUM report (v2)
    columns: [OSUM, Qwen2-Audio]
    rows:
      - {task: ASR, metric: WER %, test: LibriSpeech test-clean, set: librispeech_test_clean,
         score: ASR.error_rate, OSUM: 2.19, Qwen2-Audio: 1.6}

A figure this run has not produced (no decode dir, no score) shows as ``-``.

A row may name the release its numbers are on (``corpus: Kaggle``): where the decoded
set records what it was prepared from (scores.json's ``corpus``, from the data dir's
``corpus`` file) and that does not contain it (case-insensitive), this run's figure is
marked ``*`` and a note under the table says which release it is on, so a figure on
another test set is not read as comparable.
"""

import argparse
import sys
from pathlib import Path

from osum.cli import run
from osum.scoring.compare import read_reference, table


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="YAML: title, columns, rows")
    parser.add_argument("--label", default="this recipe", help="heading of this run's column")
    parser.add_argument("exp_dir")
    args = parser.parse_args(cmd)
    try:
        reference = read_reference(args.reference)
    except (OSError, ValueError) as e:
        sys.exit(f"compare_results: {args.reference}: {e}")
    print(table(reference, Path(args.exp_dir), args.label), end="")


if __name__ == "__main__":
    run(main)
