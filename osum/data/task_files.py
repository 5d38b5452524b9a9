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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Tuple

from osum.asrx.registry import Task, build_registry
from osum.data.kaldi import DataError, durations, read_ctm, read_table
from osum.files import atomic_open

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
    try:
        utts, tables, ctm = _read_task_tables(data_dir)
    except (DataError, FileNotFoundError) as e:
        return [str(e)]
    texts = read_table(data_dir / "text") if (data_dir / "text").is_file() else {}
    files = _TaskFiles(data_dir, utts, tables, ctm, texts)
    errors = _unknown_utterances(files)
    task_of = files.tables.get("utt2task", {})
    if "utt2task" in files.tables:
        for u in files.utts:
            if u not in task_of:
                errors.append(f"{data_dir / 'utt2task'}: utterance {u} has no task")
    if files.ctm:  # word times are checked against the audio's durations
        try:
            files.audio_seconds = durations(data_dir)
        except (DataError, FileNotFoundError) as e:
            errors.append(str(e))
    for u, (name, line) in sorted(task_of.items()):
        if name not in registry:
            errors.append(
                f"{data_dir / 'utt2task'}:{line}: unknown task {name!r} of {u}; "
                f"known: {', '.join(registry)}"
            )
            continue
        errors += _utterance_errors(files, u, name, registry[name])
    return errors


@dataclass
class _TaskFiles:
    """A data dir's task files as validation reads them."""

    data_dir: Path
    utts: Dict[str, Tuple[str, int]]  # utt2spk
    tables: Dict[str, Dict[str, Tuple[str, int]]]  # task file but ctm -> {utt: (value, line)}
    ctm: Dict[str, List[Tuple[float, float, str, int]]]
    texts: Dict[str, Tuple[str, int]]  # text ({} without one)
    audio_seconds: Dict[str, float] = field(default_factory=dict)  # read when there is a ctm


def _read_task_tables(data_dir: Path):
    """utt2spk, the task files but ctm ({name: table}), and the ctm ({} without one);
    raises :class:`DataError` or ``FileNotFoundError`` where one cannot be read."""
    utts = read_table(data_dir / "utt2spk")
    tables = {
        n: read_table(data_dir / n) for n in TASK_FILES if n != "ctm" and (data_dir / n).is_file()
    }
    ctm = read_ctm(data_dir / "ctm") if (data_dir / "ctm").is_file() else {}
    return utts, tables, ctm


def _unknown_utterances(files: _TaskFiles) -> List[str]:
    """A line of each task file whose utterance utt2spk does not list."""
    errors = []
    for name, table in list(files.tables.items()) + [("ctm", files.ctm)]:
        for u in table:
            if u not in files.utts:
                line = table[u][1] if name != "ctm" else table[u][0][3]
                errors.append(f"{files.data_dir / name}:{line}: utterance {u} is not in utt2spk")
    return errors


def _utterance_errors(files: _TaskFiles, utt: str, name: str, task: Task) -> List[str]:
    """What utterance ``utt`` of task ``name`` lacks or has wrong: its labels, transcript,
    word times and answer, as the task needs them."""
    data_dir = files.data_dir
    errors = []
    for f in task.fields:
        errors += _label_errors(files, utt, name, task, f)
    if "text" in task.required() and not files.texts.get(utt, ("", 0))[0]:
        errors.append(f"{data_dir / 'text'}: {utt} (task {name}) has no transcript")
    if task.timestamps:
        if utt not in files.ctm:
            errors.append(f"{data_dir / 'ctm'}: {utt} (task {name}) has no word times")
        else:
            errors += _check_alignment(
                data_dir / "ctm", utt, files.ctm[utt], files.audio_seconds.get(utt)
            )
    if task.chat and not files.tables.get("utt2answer", {}).get(utt, ("", 0))[0]:
        errors.append(f"{data_dir / 'utt2answer'}: {utt} (task {name}) has no answer")
    return errors


def _label_errors(files: _TaskFiles, utt: str, name: str, task: Task, field_name: str) -> List[str]:
    """The ``utt2<field>`` label of ``utt`` missing, or not one of the task's labels."""
    path = files.data_dir / f"utt2{field_name}"
    table = files.tables.get(f"utt2{field_name}", {})
    if utt not in table:
        return [f"{path}: {utt} (task {name}) has no {field_name} label"]
    label, line = table[utt]
    labels = task.label_sets[field_name]
    if label.lower() not in labels:
        return [
            f"{path}:{line}: {field_name} label {label!r} of {utt} is not one of {list(labels)}"
        ]
    return []


def _check_alignment(path, utt, words, duration, tolerance=0.02) -> List[str]:
    """The problems of one utterance's word times: a reserved character in a word, a word
    that starts before the previous one ends, or ends after the audio."""
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
    with atomic_open(out) as f:
        for u in sorted(info):
            f.write(f"{u} {json.dumps(info[u], ensure_ascii=False, sort_keys=True)}\n")
    return out
