"""VocalSound: VED on non-speech vocal sounds, and SGC / SAP from its speaker metadata.

    python -m osum.corpora.vocalsound --root /data/vocalsound --split te --out data/test \\
        --tasks VED SGC SAP --label_map conf/labels.yaml

Layout of ``vs_release_16k.zip``: ``<root>/audio_16k/<spk>_<n>_<label>.wav`` (``f0003_0_cough``:
speaker ``f0003``, whose first letter is the sex, recording session ``0``, the sound) and
the official speaker-disjoint splits in ``<root>/meta/{tr,val,te}_meta.json``: one
record a speaker, ``[spk_id, gender, age, country, native language, health condition]``
(a list of such rows, of objects with those keys, or an object keyed by the speaker).
SGC takes the gender field (the id's letter where the field is empty; a speaker whose
two disagree is skipped and listed).
A ``{split}_meta.csv`` with the same columns (with or without a header) is read in its
place, and without ``meta/`` the clip lists ``<root>/datafiles/{tr,val,te}.json`` give
the speakers (and no ages).
The six sounds (laughter, sigh, cough, throatclearing, sneeze, sniff) go through the
label map's ``event:``; ages in years through ``age_years:`` (``child: [0, 17]`` ...).
A speaker with no age (an empty field, or the clip lists that have none) has no SAP
copies: that is said once for the split, with the speakers and the number of clips, not
clip by clip. A metadata line that is not UTF-8 is listed with its file and line, and
its speaker's SGC and SAP copies are skipped as unreadable (VED needs no metadata).
The clips have no speech: their transcripts are empty, and the targets are the tags
alone. About 36 files of the release do not decode; stage 2 skips and lists them.
"""

import csv
import sys
from pathlib import Path
from typing import Dict, List, Sequence

import yaml

from osum.corpora.common import (
    BadLine,
    DataDir,
    LayoutError,
    bad_text,
    check_layout,
    check_tasks,
    csv_lines,
    iter_json_items,
    load_label_map,
    map_label,
    preparer_parser,
    read_json,
    run_preparer,
)

SPLITS = ("tr", "val", "te")
TASKS = ("VED", "SGC", "SAP")
HINT = "Set VOCALSOUND in db.sh to the dir vs_release_16k.zip was unpacked in (audio_16k/, meta/)."


def _speaker_record(row, key=None):
    """(speaker, gender, age) of one meta json record, or None for a record of no
    speaker: a row ``[spk_id, gender, age, ...]`` or an object with those keys; under an
    object keyed by the speaker, ``key`` is the speaker and a row may leave out its id."""
    if isinstance(row, dict):
        fields = {str(k).strip().lower().replace(" ", "_"): v for k, v in row.items()}
        spk = next((fields[k] for k in ("spk_id", "speaker", "spk", "id") if k in fields), key)
        gender = next((fields[k] for k in ("gender", "sex") if k in fields), "")
        return str(spk or "").strip(), str(gender).strip(), str(fields.get("age", "")).strip()
    if isinstance(row, (list, tuple)):
        cells = [str(c).strip() for c in row]
        if key is not None and (not cells or cells[0] != key):
            cells = [key] + cells  # {spk: [gender, age, ...]}
        cells += ["", "", ""]
        return cells[0], cells[1], cells[2]
    return None


def speaker_gender(spk: str, meta_gender: str, genders: Dict[str, str | None]):
    """(gender, reason to skip): the metadata's gender field, else the id's first letter,
    each through the recipe's ``gender:`` map; the two disagreeing is a reason to skip."""
    from_id = genders.get(spk[:1].lower())
    if not meta_gender.strip():
        why = f"no gender given for {spk}, and its id's first letter is not in the gender: map"
        return from_id, None if from_id else why
    from_meta = genders.get(meta_gender.strip().lower())
    if from_meta is None:
        return None, f"gender {meta_gender!r} of {spk} in the metadata is not in the gender: map"
    if from_id and from_id != from_meta:
        return None, f"the metadata says {from_meta} for {spk}, its id {from_id}"
    return from_meta, None


def is_speaker_id(spk: str) -> bool:
    return spk[:1].lower() in ("f", "m") and spk[1:].isdigit()


def read_meta_json(path: Path, bad: List[BadLine] | None = None) -> Dict[str, dict]:
    """{speaker: {"gender", "age"}} of a ``meta/<split>_meta.json``; a record of another
    shape is an error naming the file and the record. Lines that are not UTF-8 go to
    ``bad``; a speaker whose record holds one gets ``{"gender": None, "age": None,
    "unreadable": why}``."""
    try:
        meta = read_json(path, [] if bad is None else bad)
    except ValueError as e:
        raise LayoutError(f"{path}: not JSON ({e})") from None
    if isinstance(meta, dict) and isinstance(meta.get("data"), list):
        meta = meta["data"]
    if isinstance(meta, dict):
        items = [(str(k), v) for k, v in meta.items()]
    elif isinstance(meta, list):
        items = [(None, v) for v in meta]
    else:
        raise LayoutError(f"{path}: expected a list of speaker records, got {type(meta).__name__}")
    out = {}
    for i, (key, row) in enumerate(items):
        rec = _speaker_record(row, key)
        if rec is None:
            where = f"key {key!r}" if key is not None else f"record {i}"
            raise LayoutError(
                f"{path}: {where} is {row!r}; expected [spk_id, gender, age, ...] or an "
                "object with spk_id, gender and age"
            )
        spk, gender, age = rec
        if is_speaker_id(spk):  # else a header row
            out[spk] = {"gender": gender, "age": age}
            byte = bad_text([key, row])
            if byte:
                why = f"its record in {path} is not valid UTF-8 ({byte}; the line is listed)"
                out[spk] = {"gender": None, "age": None, "unreadable": why}
    return out


def _speaker_files(split: str) -> List[str]:
    """Where a split's speakers are read from, in order of preference."""
    return [f"meta/{split}_meta.json", f"meta/{split}_meta.csv", f"datafiles/{split}.json"]


def speaker_file(root: Path, split: str) -> Path | None:
    """The file a split's speakers are read from (:func:`read_speakers`), if any."""
    return next((root / f for f in _speaker_files(split) if (root / f).is_file()), None)


def read_speakers(root: Path, split: str, bad: List[BadLine] | None = None) -> Dict[str, dict]:
    """{speaker: {"gender": ..., "age": ...}} of a split: the meta json, else a meta csv,
    else the speakers of the clip list (no ages). Lines that are not UTF-8 go to ``bad``
    (and their speakers are marked ``"unreadable"``)."""
    bad = [] if bad is None else bad
    meta_json, meta, data = (root / f for f in _speaker_files(split))
    if meta_json.is_file():
        return read_meta_json(meta_json, bad)
    out = {}
    if meta.is_file():
        for row in csv.reader(csv_lines(meta, bad)):
            spk = row[0].strip() if row else ""
            if not is_speaker_id(spk):
                continue  # the header, an empty line, or one that is not UTF-8
            cells = [c.strip() for c in row] + ["", ""]
            out[cells[0]] = {"gender": cells[1], "age": cells[2]}
        for b in bad:
            spk = b.head.split(",")[0].strip()
            if is_speaker_id(spk):
                why = f"its line {b.where} is {b.reason}"
                out[spk] = {"gender": None, "age": None, "unreadable": why}
        return out
    if not data.is_file():  # neither: say what was looked for
        check_layout(
            "VocalSound",
            root,
            [
                (f"meta/{split}_meta.json", f"the {split} speakers"),
                (f"datafiles/{split}.json", "or its clip list"),
            ],
            HINT,
        )
    for i, (line, item) in enumerate(iter_json_items(data, "data")):
        byte = bad_text(item)
        if byte:
            reason = f"item {i} is not valid UTF-8 ({byte})"
            bad.append(BadLine(data, line, reason, repr(item)[:80]))
            print(f"warning: {data}:{line}: {reason}, ignored", file=sys.stderr)
            continue
        if not isinstance(item, dict) or not isinstance(item.get("wav"), str):
            print(f"vocalsound: {data}: item {i} has no 'wav' path, ignored: {item!r:.80}",
                  file=sys.stderr)  # fmt: skip
            continue
        spk = Path(item["wav"]).name.split("_")[0]
        out.setdefault(spk, {"gender": "", "age": ""})
    return out


def age_class(years: str, ranges: Dict[str, Sequence[float]]):
    """The label of the ``age_years:`` range holding ``years``, or None."""
    try:
        age = float(years)
    except ValueError:
        return None
    for label, (low, high) in ranges.items():
        if low <= age <= high:
            return label
    return None


def age_label(spk: str, years: str, ranges: Dict[str, Sequence[float]]):
    """(SAP's label, None) of a speaker's age in years, or (None, what is wrong with it);
    a speaker with no age at all is the caller's to count (:func:`prepare`)."""
    try:
        float(years)
    except ValueError:
        return None, f"age {years!r} of {spk} is not a number of years"
    label = age_class(years, ranges)
    if label is None:
        spans = ", ".join(f"{k} {lo}-{hi}" for k, (lo, hi) in ranges.items())
        return None, f"age {years} of {spk} is in no age_years range ({spans})"
    return label, None


def prepare(root, split: str, out, tasks: Sequence[str], label_map) -> dict:
    root = Path(root).absolute()  # data dirs hold absolute paths
    check_tasks("vocalsound", tasks, TASKS)
    need = [("audio_16k/*.wav", "the 16 kHz clips")]
    if not any((root / f).is_file() for f in _speaker_files(split)):  # all missing at once
        need += [
            (f"meta/{split}_meta.json", f"the {split} speakers"),
            (f"datafiles/{split}.json", "or its clip list"),
        ]
    check_layout("VocalSound", root, need, HINT)
    bad: List[BadLine] = []
    speakers = read_speakers(root, split, bad)
    events = load_label_map(label_map, "event")
    genders = load_label_map(label_map, "gender") if "SGC" in tasks else {}
    ranges = {}
    if "SAP" in tasks:
        conf = yaml.safe_load(Path(label_map).read_text(encoding="utf-8")) or {}
        ranges = conf.get("age_years") or {}
        if not ranges:
            raise LayoutError(f"{label_map}: SAP needs an 'age_years:' map (label: [low, high])")
    d = DataDir(out, f"VocalSound {split}")
    d.skip_lines(bad)
    no_age: Dict[str, int] = {}  # speaker without an age: clips whose SAP copy is left out
    for wav in sorted((root / "audio_16k").glob("*.wav")):
        parts = wav.stem.split("_")
        if wav.name.startswith("._") or len(parts) < 3:
            continue
        spk, sound = parts[0], "_".join(parts[2:])
        if spk not in speakers:
            continue  # another split's speaker
        for task in tasks:  # <speaker>-<session>_<sound>-<task>: ids sort as their speakers
            uid = f"{spk}-{'_'.join(parts[1:])}-{task.lower()}"
            meta = speakers[spk]
            if task == "VED":
                label, reason = map_label(events, sound, "event", wav.name)
                labels = {"event": label}
            elif "unreadable" in meta:
                label, reason = None, f"speaker {spk}: {meta['unreadable']}"
            elif task == "SGC":
                label, reason = speaker_gender(spk, meta["gender"], genders)
                labels = {"gender": label}
            elif not meta["age"].strip():
                no_age[spk] = no_age.get(spk, 0) + 1
                continue
            else:
                label, reason = age_label(spk, meta["age"], ranges)
                labels = {"age": label}
            if reason:
                d.skip(uid, reason)
                continue
            d.add(uid, str(wav), spk, text="", task=task, labels=labels)
    if no_age:
        source = speaker_file(root, split)
        n, clips = len(no_age), sum(no_age.values())
        names = " ".join(sorted(no_age)[:10]) + (" ..." if n > 10 else "")
        why = (
            f"{source} gives no ages (there is no meta/{split}_meta.json)"
            if source is not None and source.parent.name == "datafiles"
            else f"no age is given for {n} speaker{'s' * (n > 1)} ({names}) in {source}"
        )
        msg = f"SAP is left out for {'their' if n > 1 else 'its'} {clips} clips: {why}"
        d.skip(f"SAP-{split}", msg)
        print(f"vocalsound: {split}: {msg}", file=sys.stderr)
    return d.write()


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the dir holding audio_16k/ and meta/")
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--tasks", nargs="+", default=["VED"], choices=TASKS)
    parser.add_argument("--label_map", required=True, help="YAML with event: (and age_years:)")
    run_preparer(
        "vocalsound", parser, lambda a: prepare(a.root, a.split, a.out, a.tasks, a.label_map),
        argv, extra_errors=(KeyError,),
    )  # fmt: skip


if __name__ == "__main__":
    main()
