"""A results table laid out like a paper's, with its numbers beside a run's
(osum.bin.compare_results; the reference YAML's format is in that command's help)."""

import json
from pathlib import Path


def read_reference(path: str) -> dict:
    """The reference YAML: a mapping with a ``rows`` list, each row with its task,
    metric, set and score; ValueError (naming the row) otherwise."""
    import yaml

    try:
        reference = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ValueError(str(e)) from None
    if not isinstance(reference, dict) or not isinstance(reference.get("rows"), list):
        raise ValueError("expected a mapping with a 'rows' list")
    for i, row in enumerate(reference["rows"]):
        missing = [k for k in ("task", "metric", "set", "score") if k not in row]
        if missing:
            raise ValueError(f"row {i + 1} has no {missing}")
    return reference


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
