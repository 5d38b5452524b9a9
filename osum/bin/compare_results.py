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
import json
import sys
from pathlib import Path

import yaml


def lookup(exp: Path, row: dict):
    """(this run's figure or None, the corpus its set records or None) of a row."""
    path = exp / f"decode_{row['set']}" / "scores.json"
    if not path.is_file():
        return None, None
    scores = json.loads(path.read_text(encoding="utf-8"))
    value = scores.get("tasks", {})
    for key in str(row["score"]).split("."):
        if not isinstance(value, dict) or key not in value:
            return None, scores.get("corpus")
        value = value[key]
    return (value if isinstance(value, (int, float)) else None), scores.get("corpus")


def table(reference: dict, exp: Path, label: str) -> str:
    cols = list(reference.get("columns") or [])
    head = ["task", "metric", "test set", *cols, label]
    out = [f"## {reference.get('title', 'Against the references')}", ""]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for row in reference["rows"]:
        ours, corpus = lookup(exp, row)
        cells = [row["task"], row["metric"], row.get("test", row["set"])]
        cells += ["-" if row.get(c) is None else str(row[c]) for c in cols]
        cell = "-" if ours is None else f"{ours:.2f}"
        want = row.get("corpus")
        if ours is not None and want and corpus and str(want).lower() not in corpus.lower():
            cell += "*"
            notes.append(
                f"{row['task']} on {row.get('test', row['set'])}: this run's figure is on "
                f"{corpus}, the references' on {want}'s; they do not compare."
            )
        cells.append(cell)
        out.append("| " + " | ".join(cells) + " |")
    if notes:
        out += [""] + [f"\\* {n}" for n in dict.fromkeys(notes)]
    return "\n".join(out) + "\n"


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="YAML: title, columns, rows")
    parser.add_argument("--label", default="this recipe", help="heading of this run's column")
    parser.add_argument("exp_dir")
    args = parser.parse_args(cmd)
    try:
        reference = yaml.safe_load(Path(args.reference).read_text(encoding="utf-8"))
        if not isinstance(reference, dict) or not isinstance(reference.get("rows"), list):
            raise ValueError("expected a mapping with a 'rows' list")
        for i, row in enumerate(reference["rows"]):
            missing = [k for k in ("task", "metric", "set", "score") if k not in row]
            if missing:
                raise ValueError(f"row {i + 1} has no {missing}")
    except (OSError, ValueError, yaml.YAMLError) as e:
        sys.exit(f"compare_results: {args.reference}: {e}")
    print(table(reference, Path(args.exp_dir), args.label), end="")


if __name__ == "__main__":
    main()
