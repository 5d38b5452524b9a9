"""RESULTS.md: per-recipe tables from scored decode dirs, and one cross-corpus table.

A recipe's RESULTS.md first lists how each stage was last run (the exact command, the
git commit, the machine, the wall time: the records :func:`record_stage` leaves in
``<exp>/stages/``), then has one table per task and test set. Each row names the
experiment, the model (encoder and LLM the config names), the model file and the
decoding options that made it, and the date. RESULTS.json beside it holds the same
entries for :func:`gather`, which lays every recipe's results out in one table.
"""

import dataclasses
import datetime
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Dict, Iterable, List, Sequence

import yaml

from osum.files import atomic_path, write_text

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


def decoding_of(options: dict) -> str:
    """The search options of a ``decode_options.json`` that differ from
    :class:`DecodeOptions`' defaults, e.g. ``beam_size=4 ctc_weight=0.5``; ``greedy`` when
    none does."""
    from osum.decode.search import DecodeOptions  # torch: not for record_stage's sake

    defaults = dataclasses.asdict(DecodeOptions())
    search = options.get("search", {})
    changed = [f"{k}={v}" for k, v in search.items() if k in defaults and v != defaults[k]]
    if options.get("task"):
        changed.insert(0, f"task={options['task']}")
    return " ".join(changed) or "greedy"


def collect(exp_dirs: Iterable[str], test_sets: Sequence[str] | None = None) -> List[dict]:
    """Entries of the ``<exp>/decode_<set>/scores/result.json`` of ``test_sets`` (default:
    every decode dir). A set asked for without a scored decode is an error."""
    entries = []
    for exp in map(Path, exp_dirs):
        if test_sets is None:
            results = sorted(exp.glob("*/scores/result.json"))
        else:
            results = [exp / f"decode_{s}" / "scores" / "result.json" for s in test_sets]
            for result in results:
                if not result.is_file():
                    raise FileNotFoundError(f"{result.parent.parent}: not scored (no {result})")
        for result in results:
            entries += _entries(exp, result)
    return entries


def _entries(exp: Path, result: Path) -> List[dict]:
    summary = json.loads(result.read_text(encoding="utf-8"))
    decode = result.parent.parent
    date = datetime.date.fromtimestamp(result.stat().st_mtime).isoformat()
    config, model_file, decoding = exp / "config.yaml", "?", "?"
    options = decode / "decode_options.json"
    if options.is_file():  # written by osum_inference: the model and options it decoded with
        opts = json.loads(options.read_text(encoding="utf-8"))
        config, model_file, decoding = (
            Path(opts["train_config"]),
            opts["model_file"],
            decoding_of(opts),
        )
    return [
        dict(
            exp=str(exp),
            test_set=decode.name.removeprefix("decode_"),
            task=task,
            date=date,
            model=_model_of(config),
            config=str(config),
            model_file=model_file,
            decoding=decoding,
            result=res,
        )
        for task, res in summary["tasks"].items()
    ]


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


def write_results(
    entries: List[dict], out_md: str, title: str, commands: str = "", stages: Sequence[dict] = ()
) -> Path:
    """RESULTS.md (and RESULTS.json) of ``entries``; ``stages``: the records of
    :func:`read_stages`, ``commands``: free text shown instead when there are none."""
    out_md = Path(out_md)
    lines = [f"# {title}", ""]
    if stages:
        lines += stage_table(stages)
    elif commands:
        lines += ["Commands:", "", "```sh", commands.strip(), "```", ""]
    groups: Dict[tuple, List[dict]] = {}
    for e in entries:
        groups.setdefault((e["task"], e["test_set"]), []).append(e)
    for (task, test_set), rows in sorted(groups.items()):
        lines += [f"## {task} / {test_set}", ""] + _table(rows) + [""]
    _write(out_md, "\n".join(lines))
    _write(out_md.with_suffix(".json"), json.dumps(entries, indent=1, ensure_ascii=False))
    return out_md


def _table(rows: List[dict]) -> List[str]:
    cols = list(dict.fromkeys(c for r in rows for c in columns(r["result"])))
    lines = ["| exp | model | model file | decoding | date | " + " | ".join(cols) + " |"]
    lines.append("|---" * (5 + len(cols)) + "|")
    for r in rows:
        vals = columns(r["result"])
        model_file = r.get("model_file", r["config"])
        lines.append(
            f"| {r['exp']} | {r['model']} | {model_file} | {r.get('decoding', '?')} | "
            f"{r['date']} | " + " | ".join(str(vals.get(c, "")) for c in cols) + " |"
        )
    return lines


def _write(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


# ------------------------------------------------------------------ stage records
def machine() -> str:
    """The CPU model and its cores, and the GPUs nvidia-smi lists (``none``)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        gpus = (
            [g.strip() for g in out.stdout.splitlines() if g.strip()] if out.returncode == 0 else []
        )
    except (OSError, subprocess.TimeoutExpired):
        gpus = []
    names = {g: gpus.count(g) for g in gpus}
    gpu = ", ".join(f"{n} x {g}" for g, n in names.items()) or "none"
    return f"{cpu}, {os.cpu_count()} cores; GPUs: {gpu}"


def git_commit(where: str | None = None) -> str:
    """The commit of ``where`` (default: osum's own checkout; ``+changes`` when tracked
    files differ from it)."""
    where = where or str(Path(__file__).resolve().parents[2])

    def git(*args):
        return subprocess.run(["git", "-C", where, *args], capture_output=True, text=True)

    head = git("rev-parse", "--short=12", "HEAD")
    if head.returncode != 0:
        return "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + (" +changes" if dirty else "")


def record_stage(exp_dir: str, stage: int, seconds: int, command: str, ngpu: int = 0) -> Path:
    """``<exp_dir>/stages/<stage>.json``: the command that ran the stage, the commit, the
    machine, its wall time and when it finished (written atomically)."""
    out = Path(exp_dir) / "stages" / f"{stage}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = dict(
        stage=stage,
        command=command,
        commit=git_commit(),
        machine=machine(),
        ngpu=ngpu,
        seconds=seconds,
        finished=datetime.datetime.now().isoformat(timespec="seconds"),
    )
    _write(out, json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    return out


def read_stages(exp_dir: str) -> List[dict]:
    """The stage records of ``exp_dir``, by stage."""
    paths = sorted(Path(exp_dir).glob("stages/*.json"), key=lambda p: int(p.stem))
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def _duration(seconds: int) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s" if m else f"{s} s"


def stage_table(stages: Sequence[dict]) -> List[str]:
    """How each stage was last run: a table, then the commands and machines it names."""
    lines = ["| stage | wall time | finished | command | commit | machine |", "|---" * 6 + "|"]
    for r in stages:
        command = r["command"].replace("|", "\\|")  # a pipe would end the cell
        lines.append(
            f"| {r['stage']} | {_duration(r['seconds'])} | {r['finished']} | "
            f"`{command}` | {r['commit']} | {r['machine']} |"
        )
    return lines + [""]


def gather(results_json: Iterable[str], out_md: str) -> Path:
    """One table over recipes: recipe, test set, task, the main figures."""
    lines = [
        "# Results of every recipe",
        "",
        "| recipe | test set | task | exp | date | figures |",
        "|---|---|---|---|---|---|",
    ]
    for path in map(Path, results_json):
        # egs/<recipe>/osum1/RESULTS.json, or exp/<tag>/RESULTS.json below it
        recipe = next((p.parent.name for p in path.parents if p.name == "osum1"), path.parent.name)
        for e in json.loads(path.read_text(encoding="utf-8")):
            figures = ", ".join(f"{k} {v}" for k, v in columns(e["result"]).items())
            lines.append(
                f"| {recipe} | {e['test_set']} | {e['task']} | {e['exp']} | "
                f"{e['date']} | {figures} |"
            )
    write_text(out_md, "\n".join(lines) + "\n")
    return Path(out_md)
