"""Task information in Kaldi data dirs: reading, validating, and the per-utterance summary.

Files beside ``wav.scp``/``text``/``utt2spk`` (LC_ALL=C sorted, one utterance a line):

    utt2task      <utt> <TASK>               task of every utterance (ASR when absent)
    utt2emotion   <utt> <label>              SER labels         } only the utterances
    utt2event     <utt> <label>              VED labels         } whose task needs them;
    utt2style     <utt> <label>              SSR labels         } labels may contain
    utt2gender    <utt> <label>              SGC labels         } spaces ("throat
    utt2age       <utt> <label>              SAP labels         }  clearing")
    ctm           <utt> <start> <dur> <word>   SRWT word times in seconds, several lines per
                  (or Kaldi's <utt> <channel> <start> <dur> <word> [<conf>])  utterance
    utt2answer    <utt> <reply text>         STTC replies
    utt2question  <utt> <text>               a question about the audio, put after the
                                             task's prompt (AIR-Bench's chat items)

``utt2taskinfo`` is derived from them (:func:`write_task_info`): one JSON object a line
with the task and its fields. Training reads it as ESPnet data (name ``task``, type
``text``) and builds prompts and targets at load time, so the dump never fixes a prompt
wording and a task can be added without touching the audio.
"""

import json
from pathlib import Path
from typing import Dict, List, Mapping

from osum.asrx.registry import Task, build_registry
from osum.data.kaldi import DataError, durations, read_ctm, read_table

LABEL_FILES = {f"utt2{f}": f for f in ("emotion", "event", "style", "gender", "age")}
TASK_FILES = ["utt2task", *LABEL_FILES, "ctm", "utt2answer", "utt2question"]


def load_task_info(data_dir: Path) -> Dict[str, dict]:
    """{utt: {"task": ..., label fields, "alignment": [[s, e, w]...], "answer": ...}}."""
    data_dir = Path(data_dir)
    utts = read_table(data_dir / "utt2spk")
    tasks = read_table(data_dir / "utt2task") if (data_dir / "utt2task").is_file() else {}
    info = {u: {"task": tasks[u][0] if u in tasks else "ASR"} for u in utts}
    for name, f in LABEL_FILES.items():
        if (data_dir / name).is_file():
            for u, (v, _) in read_table(data_dir / name).items():
                if u in info:
                    info[u][f] = v
    if (data_dir / "ctm").is_file():
        for u, words in read_ctm(data_dir / "ctm").items():
            if u in info:
                info[u]["alignment"] = [[round(s, 3), round(e, 3), w] for s, e, w, _ in words]
    for name, key in (("utt2answer", "answer"), ("utt2question", "question")):
        if (data_dir / name).is_file():
            for u, (v, _) in read_table(data_dir / name).items():
                if u in info:
                    info[u][key] = v
    return info


def validate_task_files(data_dir: Path, registry: Mapping[str, Task] | None = None) -> List[str]:
    """Every problem of the task files, each naming file and line (empty list: valid)."""
    data_dir = Path(data_dir)
    registry = registry or build_registry()
    errors: List[str] = []
    try:
        utts = read_table(data_dir / "utt2spk")
        tables = {
            n: read_table(data_dir / n)
            for n in TASK_FILES
            if n != "ctm" and (data_dir / n).is_file()
        }
        ctm = read_ctm(data_dir / "ctm") if (data_dir / "ctm").is_file() else {}
    except (DataError, FileNotFoundError) as e:
        return [str(e)]
    texts = read_table(data_dir / "text") if (data_dir / "text").is_file() else {}
    for name, table in list(tables.items()) + [("ctm", ctm)]:
        for u in table:
            if u not in utts:
                line = table[u][1] if name != "ctm" else table[u][0][3]
                errors.append(f"{data_dir / name}:{line}: utterance {u} is not in utt2spk")
    task_of = tables.get("utt2task", {})
    if "utt2task" in tables:
        for u in utts:
            if u not in task_of:
                errors.append(f"{data_dir / 'utt2task'}: utterance {u} has no task")
    need_durations = bool(ctm)
    dur = {}
    if need_durations:
        try:
            dur = durations(data_dir)
        except (DataError, FileNotFoundError) as e:
            errors.append(str(e))
    for u, (name, line) in sorted(task_of.items()):
        if name not in registry:
            errors.append(
                f"{data_dir / 'utt2task'}:{line}: unknown task {name!r} of {u}; "
                f"known: {', '.join(registry)}"
            )
            continue
        task = registry[name]
        for f in task.fields:
            table = tables.get(f"utt2{f}", {})
            if u not in table:
                errors.append(f"{data_dir / ('utt2' + f)}: {u} (task {name}) has no {f} label")
                continue
            label, lab_line = table[u]
            if label.lower() not in task.label_sets[f]:
                errors.append(
                    f"{data_dir / ('utt2' + f)}:{lab_line}: {f} label {label!r} of {u} "
                    f"is not one of {list(task.label_sets[f])}"
                )
        if "text" in task.required() and not texts.get(u, ("", 0))[0]:
            errors.append(f"{data_dir / 'text'}: {u} (task {name}) has no transcript")
        if task.timestamps:
            if u not in ctm:
                errors.append(f"{data_dir / 'ctm'}: {u} (task {name}) has no word times")
            else:
                errors += _check_alignment(data_dir / "ctm", u, ctm[u], dur.get(u))
        if task.chat and not tables.get("utt2answer", {}).get(u, ("", 0))[0]:
            errors.append(f"{data_dir / 'utt2answer'}: {u} (task {name}) has no answer")
    return errors


def _check_alignment(path, utt, words, duration, tolerance=0.02) -> List[str]:
    errors, last_end = [], 0.0
    for start, end, word, line in words:
        if "<" in word or ">" in word:
            errors.append(
                f"{path}:{line}: {utt}: word {word!r} has '<' or '>', which the "
                "timestamp format reserves (drop <unk>, <sil> and the like)"
            )
        if start < last_end - 1e-6:
            errors.append(
                f"{path}:{line}: {utt}: word starts at {start:.2f} s, before the "
                f"previous one ends ({last_end:.2f} s)"
            )
        if duration is not None and end > duration + tolerance:
            errors.append(
                f"{path}:{line}: {utt}: word ends at {end:.2f} s, after the audio "
                f"({duration:.2f} s)"
            )
        last_end = max(last_end, end)
    return errors


def write_task_info(data_dir: Path, registry: Mapping[str, Task] | None = None) -> Path:
    """Validate the task files, then write ``utt2taskinfo`` (sorted, one JSON a line)."""
    data_dir = Path(data_dir)
    errors = validate_task_files(data_dir, registry)
    if errors:
        raise DataError("\n".join(errors))
    info = load_task_info(data_dir)
    out = data_dir / "utt2taskinfo"
    with open(out, "w", encoding="utf-8") as f:
        for u in sorted(info):
            f.write(f"{u} {json.dumps(info[u], ensure_ascii=False, sort_keys=True)}\n")
    return out
