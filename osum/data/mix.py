"""Training sets from several data dirs (weights as repeat factors) and length filters.

Mixing, as OSUM does: each source dir has a weight; weight 3 repeats every utterance
three times (copies get ids ``<utt>_rep2``, ``<utt>_rep3``, sharing the audio), 0.5 keeps
a fixed half, chosen by a hash of the id so it is the same on every run. Filtering drops
utterances whose audio or target is too long (OSUM: over 29 s / 200 target tokens).
Both write a Kaldi data dir and report what they did, per task and per source.
"""

import json
import math
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

from osum.data.kaldi import DataError, durations, read_ctm, read_table
from osum.data.task_files import TASK_FILES, load_task_info
from osum.files import atomic_open, write_text

PER_UTT_FILES = [
    "wav.scp",
    "text",
    "utt2spk",
    "utt2dur",
    "utt2num_frames",
    "segments",
    "utt2taskinfo",
] + [f for f in TASK_FILES if f != "ctm"]


def _json(info: dict) -> str:
    return json.dumps(info, ensure_ascii=False, sort_keys=True)


def keep_fraction(utt: str, salt: str, fraction: float) -> bool:
    """Whether ``utt`` is in a deterministic ``fraction`` of all utterances: the same on
    every run, whatever the order and whatever the other utterances.

    The hash is CRC-32 (``zlib.crc32``) of the UTF-8 bytes of ``f"{salt}:{utt}"``; the
    utterance is kept when the hash modulo 10000 is below ``fraction * 10000`` (so
    fractions count in steps of 1/10000), and always when ``fraction`` >= 1. ``salt``
    keeps choices made for different purposes independent: the corpus preparers
    (:mod:`osum.corpora`) use the task (a task's share of an utterance's copies) or
    ``"hold_out"`` (IEMOCAP's held-out dialogs), and which utterances they prepare
    depends on it; :func:`mix_data_dirs` uses ``"weight"`` (a source weight's
    fractional part)."""
    return fraction >= 1 or zlib.crc32(f"{salt}:{utt}".encode()) % 10000 < fraction * 10000


def copy_ids(utt: str, weight: float) -> List[str]:
    """The ids of an utterance's copies in a mix at ``weight``: ``<utt>``, ``<utt>_rep2``,
    ... ``floor(weight)`` of them, and one more for a fixed share ``weight - floor(weight)``
    of the utterances (:func:`keep_fraction`)."""
    copies = int(math.floor(weight))
    n = copies + (1 if keep_fraction(utt, "weight", weight - copies) else 0)
    return [utt if i == 0 else f"{utt}_rep{i + 1}" for i in range(n)]


def _lines(path: Path) -> Dict[str, str]:
    return {k: v for k, (v, _) in read_table(path).items()} if path.is_file() else {}


def _write_dir(
    out: Path, files: Dict[str, Dict[str, str]], ctm: Dict[str, list], recordings: Dict[str, str]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, table in files.items():
        if table:
            with atomic_open(out / name) as f:
                for k in sorted(table):
                    f.write(f"{k} {table[k]}\n")
    if recordings:  # with segments, wav.scp is keyed by recording
        with atomic_open(out / "wav.scp") as f:
            for k in sorted(recordings):
                f.write(f"{k} {recordings[k]}\n")
    if ctm:
        with atomic_open(out / "ctm") as f:
            for k in sorted(ctm):
                for s, e, w in ctm[k]:
                    f.write(f"{k} {s:.3f} {e - s:.3f} {w}\n")
    spk2utt: Dict[str, List[str]] = defaultdict(list)
    for utt, spk in sorted(files["utt2spk"].items()):
        spk2utt[spk].append(utt)
    with atomic_open(out / "spk2utt") as f:
        for spk in sorted(spk2utt):
            f.write(f"{spk} {' '.join(spk2utt[spk])}\n")


def summarize(utts: Iterable[Tuple[str, str, str, float]]) -> dict:
    """(utt, source, task, seconds) -> utterances and hours per task and per source."""
    per_task: Dict[str, List[float]] = defaultdict(lambda: [0, 0.0])
    per_source: Dict[str, List[float]] = defaultdict(lambda: [0, 0.0])
    for _u, source, task, sec in utts:
        for table, key in ((per_task, task), (per_source, source)):
            table[key][0] += 1
            table[key][1] += sec / 3600

    def fmt(table):
        return {k: {"utterances": v[0], "hours": round(v[1], 4)} for k, v in sorted(table.items())}

    return {"per_task": fmt(per_task), "per_source": fmt(per_source)}


def mix_data_dirs(sources: Sequence[Tuple[str, float]], out: str) -> dict:
    """Write the weighted union of ``sources`` [(dir, weight)] to ``out``; returns the report."""
    out = Path(out)
    files: Dict[str, Dict[str, str]] = {n: {} for n in PER_UTT_FILES}
    recordings: Dict[str, str] = {}
    ctm: Dict[str, list] = {}
    origin: Dict[str, str] = {}
    rows = []
    # if any source has segments the mix has them: whole files become one segment each
    any_segments = any((Path(s) / "segments").is_file() for s, _ in sources)
    for src, weight in sources:
        src = Path(src)
        _check_source(src, weight)
        tables, secs, recos = _read_source(src, any_segments)
        _add_recordings(src, recos, recordings)
        src_ctm = read_ctm(src / "ctm") if (src / "ctm").is_file() else {}
        info = load_task_info(src)
        # dense task files whatever the source had (no utt2task = all ASR)
        tables["utt2task"] = {u: i["task"] for u, i in info.items()}
        tables["utt2taskinfo"] = {u: _json(i) for u, i in info.items()}
        for utt in sorted(tables["utt2spk"]):
            for new in copy_ids(utt, weight):
                if new in origin:
                    raise DataError(f"utterance {new} is in both {origin[new]} and {src}")
                origin[new] = str(src)
                for name, table in tables.items():
                    if utt in table:
                        files[name][new] = table[utt]
                if utt in src_ctm:
                    ctm[new] = [(s, e, w) for s, e, w, _ in src_ctm[utt]]
                rows.append((new, str(src), info[utt]["task"], secs.get(utt, 0.0)))
    if not rows:
        raise DataError("the mix is empty (all weights 0?)")
    _write_dir(out, files, ctm, recordings)
    report = summarize(rows)
    report["sources"] = {str(s): w for s, w in sources}
    write_text(out / "mix_report.json", json.dumps(report, indent=1, ensure_ascii=False))
    return report


def _check_source(src: Path, weight: float) -> None:
    if not (src / "utt2spk").is_file():
        raise DataError(f"{src}: not a data dir (no utt2spk)")
    if weight < 0 or not math.isfinite(weight):
        raise DataError(f"{src}: weight must be >= 0, got {weight}")


def _read_source(src: Path, any_segments: bool):
    """(its per-utterance tables, seconds per utterance, its recordings {id: wav.scp
    entry} where it has segments) of a source of a mix."""
    tables = {n: _lines(src / n) for n in PER_UTT_FILES}
    secs = durations(src)
    if any_segments and not tables["segments"]:
        # the whole file (Kaldi's end -1): a duration from metadata (MELD's csv times)
        # may be shorter than the clip, and would cut it
        tables["segments"] = {u: f"{u} 0 -1" for u in tables["utt2spk"]}
    # every utterance keeps its duration in the mix, without reading the audio again
    tables["utt2dur"] = {
        u: tables["utt2dur"].get(u) or f"{secs[u]:.3f}"
        for u in tables["utt2spk"]
        if u in tables["utt2dur"] or u in secs
    }
    recos: Dict[str, str] = {}
    if tables["segments"]:  # wav.scp is keyed by recording
        recos, tables["wav.scp"] = _lines(src / "wav.scp"), {}
    return tables, secs, recos


def _add_recordings(src: Path, recos: Dict[str, str], recordings: Dict[str, str]) -> None:
    """A source's recordings into the mix's; one id must be the same audio in all."""
    for reco, path in recos.items():
        if reco in recordings and recordings[reco] != path:
            raise DataError(
                f"{src}/wav.scp: recording {reco} also comes from another source with other audio"
            )
        recordings[reco] = path


def filter_data_dir(
    src: str,
    out: str,
    max_seconds: float | None = 29.0,
    max_target_tokens: int | None = 200,
    count_tokens: Callable[[str, dict], int] | None = None,
) -> dict:
    """Copy ``src`` to ``out`` without utterances over the limits; lists what it drops.

    ``count_tokens(text, info)`` gives an utterance's target length in tokens (see
    :func:`target_token_counter`); without it only the audio length is checked.
    """
    src, out = Path(src), Path(out)
    tables = {n: _lines(src / n) for n in PER_UTT_FILES}
    recordings = _lines(src / "wav.scp") if tables["segments"] else {}
    if recordings:
        tables["wav.scp"] = {}
    src_ctm = read_ctm(src / "ctm") if (src / "ctm").is_file() else {}
    info = load_task_info(src)
    if tables["utt2task"] or tables["utt2taskinfo"]:
        tables["utt2taskinfo"] = {u: _json(i) for u, i in info.items()}
    secs = durations(src)
    dropped: Dict[str, str] = {}
    for utt in tables["utt2spk"]:
        if max_seconds is not None and secs.get(utt, 0.0) > max_seconds:
            dropped[utt] = f"audio {secs[utt]:.1f} s > {max_seconds} s"
        elif max_target_tokens is not None and count_tokens is not None:
            n = count_tokens(tables["text"].get(utt, ""), info[utt])
            if n > max_target_tokens:
                dropped[utt] = f"target {n} tokens > {max_target_tokens}"
    kept = {n: {k: v for k, v in t.items() if k not in dropped} for n, t in tables.items()}
    if not kept["utt2spk"]:
        raise DataError(f"{src}: every utterance is over the limits; nothing written")
    used = {v.split()[0] for v in kept["segments"].values()}
    recordings = {k: v for k, v in recordings.items() if k in used}
    ctm = {k: [(s, e, w) for s, e, w, _ in v] for k, v in src_ctm.items() if k in kept["utt2spk"]}
    _write_dir(out, kept, ctm, recordings)
    with atomic_open(out / "dropped") as f:
        for utt in sorted(dropped):
            f.write(f"{utt} {dropped[utt]}\n")
    report = summarize((u, str(src), info[u]["task"], secs.get(u, 0.0)) for u in kept["utt2spk"])
    report["dropped"] = len(dropped)
    report["kept"] = len(kept["utt2spk"])
    return report


def target_token_counter(tokenizer_dir: str, task_conf: dict | None = None):
    """count_tokens for :func:`filter_data_dir`: the target as training builds it."""
    from osum.asrx.preprocess import OSUMPreprocessor

    pre = OSUMPreprocessor(train=False, tokenizer=tokenizer_dir, task_conf=task_conf)

    def count(text: str, info: dict) -> int:
        target = pre.registry[info["task"]].build_target(dict(info, text=text))
        return len(pre.encode(target)) + 1

    return count
