"""RESULTS.md: per-recipe tables from scored decode dirs, and one cross-corpus table.

A recipe's RESULTS.md has one table per task and test set, with the experiment, the
model (encoder and LLM the config names), the config and the date; RESULTS.json beside
it holds the same entries for :func:`gather`, which lays every recipe's results out in
one table.
"""

import datetime
import json
from pathlib import Path
from typing import Dict, Iterable, List

import yaml

METRICS = [  # (key in the task's result, column name)
    ("error_rate", "WER/CER %"),
    ("sclite_error_rate", "sclite %"),
    ("aas_ms", "AAS ms"),
    ("answer_accuracy", "answer acc %"),
    ("answer_chrf", "answer chrF"),
    ("judge_score", "judge"),
]


def _model_of(config: Path) -> str:
    try:
        conf = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return "?"
    enc = (conf.get("encoder_conf") or {}).get("init") or "random encoder"
    llm = (conf.get("llm_conf") or {}).get("path") or "?"
    return f"{Path(str(enc)).name} + {Path(str(llm)).name}"


def collect(exp_dirs: Iterable[str]) -> List[dict]:
    """Entries of every ``<exp>/decode_*/scores/result.json``."""
    entries = []
    for exp in map(Path, exp_dirs):
        for result in sorted(exp.glob("*/scores/result.json")):
            summary = json.loads(result.read_text(encoding="utf-8"))
            decode = result.parent.parent
            date = datetime.date.fromtimestamp(result.stat().st_mtime).isoformat()
            test_set = decode.name.removeprefix("decode_")
            config = exp / "config.yaml"
            options = decode / "decode_options.json"
            if options.is_file():  # written by osum_inference: the config it decoded with
                config = Path(json.loads(options.read_text(encoding="utf-8"))["train_config"])
            for task, res in summary["tasks"].items():
                entries.append(
                    dict(
                        exp=str(exp),
                        test_set=test_set,
                        task=task,
                        date=date,
                        model=_model_of(config),
                        config=str(config),
                        result=res,
                    )
                )
    return entries


def columns(res: dict) -> Dict[str, object]:
    # a metric the task has but could not compute (AAS with no timed unit matched) shows "-"
    cols = {name: "-" if res[key] is None else res[key] for key, name in METRICS if key in res}
    for field, value in res.items():
        if isinstance(value, dict) and "accuracy" in value:
            cols[f"{field} acc %"] = value["accuracy"]
            cols[f"{field} macro-F1 %"] = value["macro_f1"]
    cols["utts"] = res["utterances"]
    if res.get("missing"):
        cols["missing"] = res["missing"]
    return cols


def write_results(entries: List[dict], out_md: str, title: str, commands: str = "") -> Path:
    out_md = Path(out_md)
    lines = [f"# {title}", ""]
    if commands:
        lines += ["Commands:", "", "```sh", commands.strip(), "```", ""]
    groups: Dict[tuple, List[dict]] = {}
    for e in entries:
        groups.setdefault((e["task"], e["test_set"]), []).append(e)
    for (task, test_set), rows in sorted(groups.items()):
        cols = list(dict.fromkeys(c for r in rows for c in columns(r["result"])))
        lines += [f"## {task} / {test_set}", ""]
        lines.append("| exp | model | config | date | " + " | ".join(cols) + " |")
        lines.append("|---" * (4 + len(cols)) + "|")
        for r in rows:
            vals = columns(r["result"])
            lines.append(
                f"| {r['exp']} | {r['model']} | {r['config']} | {r['date']} | "
                + " | ".join(str(vals.get(c, "")) for c in cols)
                + " |"
            )
        lines.append("")
    out_md.write_text("\n".join(lines), encoding="utf-8")
    out_md.with_suffix(".json").write_text(
        json.dumps(entries, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    return out_md


def gather(results_json: Iterable[str], out_md: str) -> Path:
    """One table over recipes: recipe, test set, task, the main figures."""
    lines = [
        "# Results of every recipe",
        "",
        "| recipe | test set | task | exp | date | figures |",
        "|---|---|---|---|---|---|",
    ]
    for path in map(Path, results_json):
        recipe = path.parent.parent.name if path.parent.name == "osum1" else path.parent.name
        for e in json.loads(path.read_text(encoding="utf-8")):
            figures = ", ".join(f"{k} {v}" for k, v in columns(e["result"]).items())
            lines.append(
                f"| {recipe} | {e['test_set']} | {e['task']} | {e['exp']} | "
                f"{e['date']} | {figures} |"
            )
    Path(out_md).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Path(out_md)
