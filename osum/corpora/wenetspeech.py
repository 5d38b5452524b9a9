"""WenetSpeech: Mandarin ASR from ``WenetSpeech.json`` and its opus recordings.

    python -m osum.corpora.wenetspeech --root /data/WenetSpeech \\
        --subset S:data/train_s --subset DEV:data/dev \\
        --subset TEST_NET:data/test_net --subset TEST_MEETING:data/test_meeting

Layout: ``<root>/WenetSpeech.json`` and ``<root>/audio/<split>/<source>/<batch>/<aid>.opus``.
The json's ``audios`` list the recordings (``aid``, ``path`` relative to the root) and
their ``segments`` (``sid``, ``begin_time``, ``end_time``, ``text``, ``subsets``: a list of
``L``, ``M``, ``S``, ``W``, ``DEV``, ``TEST_NET``, ``TEST_MEETING``; a segment may be in
several). One pass over the json writes every requested subset; each data dir holds the
recordings in ``wav.scp`` and the segments in ``segments``, cut at dump time (a
recording is decoded once per dump job). The json is read as a stream, one recording at a
time (:func:`osum.corpora.common.iter_json_array`), so preparing ``L`` needs little memory:
``json.load`` takes about 6 times the file's size (``bench/metadata_stream.py``). A
recording whose opus file is missing is skipped and listed with its number of segments.
A segment whose text is not UTF-8 is skipped and listed with the line of its recording
in the json. Full-width spaces become spaces.
"""

import sys
from pathlib import Path
from typing import Dict, Sequence

from osum.corpora.common import (
    DataDir,
    LayoutError,
    bad_text,
    check_layout,
    iter_json_items,
    preparer_parser,
    run_preparer,
)

SUBSETS = ("L", "M", "S", "W", "DEV", "TEST_NET", "TEST_MEETING")
HINT = "Set WENETSPEECH in db.sh to the dir holding WenetSpeech.json and audio/."


def prepare(root, outs: Dict[str, str]) -> dict:
    root = Path(root).absolute()  # data dirs hold absolute paths
    bad = [s for s in outs if s not in SUBSETS]
    if bad:
        raise ValueError(f"wenetspeech: subsets {bad} are not among {list(SUBSETS)}")
    check_layout(
        "WenetSpeech",
        root,
        [("WenetSpeech.json", "the metadata"), ("audio", "the opus files")],
        HINT,
    )
    print(f"wenetspeech: reading {root / 'WenetSpeech.json'}", file=sys.stderr)
    dirs = {s: DataDir(out, f"WenetSpeech {s}") for s, out in outs.items()}
    try:
        items = iter_json_items(root / "WenetSpeech.json", "audios")
        for n, (line, audio) in enumerate(items):
            add_audio(root, n, audio, dirs, f"WenetSpeech.json:{line}")
    except KeyError as e:
        raise LayoutError(f"WenetSpeech: {e.args[0]}") from None
    return {s: d.write() for s, d in dirs.items()}


def add_audio(root: Path, n: int, audio, dirs: Dict[str, DataDir], where: str = "") -> None:
    """The wanted segments of ``audios[n]`` (at ``where``, the json's file:line) into their
    subsets' data dirs."""
    if not isinstance(audio, dict):
        for d in dirs.values():
            d.skip(f"audios[{n}]", "not an object")
        return
    aid, rel = str(audio.get("aid") or ""), str(audio.get("path") or "")
    if not aid or not rel:
        for d in dirs.values():
            d.skip(f"audios[{n}]", f"no 'aid' or 'path' ({where})")
        return
    byte = bad_text([aid, rel])
    if byte:  # its segments cannot be named or found: in each dir, once
        for d in dirs.values():
            d.skip(f"audios[{n}]", f"its aid or path is not valid UTF-8 ({byte}; {where})")
        return
    path = root / rel
    wanted = {s: [] for s in dirs}
    for seg in audio.get("segments") or []:
        for s in (seg.get("subsets") if isinstance(seg, dict) else None) or []:
            if s in wanted:
                wanted[s].append(seg)
    for s, segs in wanted.items():
        if not segs:
            continue
        if not path.is_file():
            dirs[s].skip(aid, f"{path} is missing ({len(segs)} segments)")
            continue
        for seg in segs:
            sid = str(seg.get("sid") or "")
            text = str(seg.get("text") or "").replace("\u3000", " ")
            if not sid.startswith(aid):
                sid = f"{aid}_{sid}"
            byte = bad_text([sid, text])
            if byte:
                print(f"warning: {where}: segment {sid!r} is not valid UTF-8 ({byte}), skipped",
                      file=sys.stderr)  # fmt: skip
                what = f"audios[{n}]" if bad_text(sid) else sid  # written as UTF-8
                dirs[s].skip(what, f"its text is not valid UTF-8 ({byte}; {where})")
                continue
            if not text.strip():
                dirs[s].skip(sid, "empty text")
                continue
            try:
                span = (aid, float(seg["begin_time"]), float(seg["end_time"]))
            except (KeyError, TypeError, ValueError):
                dirs[s].skip(sid, "no numeric begin_time/end_time")
                continue
            dirs[s].add(sid, str(path), aid, text=text, segment=span)


def subset_outs(items: Sequence[str]) -> Dict[str, str]:
    """``["S:data/train_s", ...]`` (the ``--subset`` options) -> {subset: data dir}."""
    if any(":" not in x for x in items):
        raise ValueError(f"--subset takes SUBSET:DIR, e.g. TEST_NET:data/test_net, not {items}")
    return dict(x.split(":", 1) for x in items)


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the dir holding WenetSpeech.json")
    parser.add_argument(
        "--subset", action="append", required=True, metavar="SUBSET:DIR",
        help=f"a subset ({', '.join(SUBSETS)}) and the data dir to write it to",
    )  # fmt: skip
    run_preparer("wenetspeech", parser, lambda a: prepare(a.root, subset_outs(a.subset)), argv)


if __name__ == "__main__":
    main()
