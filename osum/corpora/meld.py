"""MELD (Friends dialogues): SER, the clip's transcript followed by its emotion.

    python -m osum.corpora.meld --root /data/MELD.Raw --split test --out data/test \\
        --label_map conf/labels.yaml

Layout of ``MELD.Raw.tar.gz`` once its inner archives are extracted in place:
``<root>/{train,dev,test}_sent_emo.csv`` and the clip dirs ``train_splits/``,
``dev_splits_complete/``, ``output_repeated_splits_test/`` with
``dia<Dialogue_ID>_utt<Utterance_ID>.mp4``. The mirrors' layout with a dir per split
(``<root>/train/train_sent_emo.csv``, ``<root>/train/train_splits/``) works too.
The audio is read from the mp4 by an ffmpeg pipe in ``wav.scp``.

``utt2dur`` holds each clip's own length, read from its header by ffprobe (the csv's
``StartTime``/``EndTime`` are the scene's times in the episode, often seconds longer
than the clip).

Known quirks: the csv files of the release have Windows-1252 punctuation (raw bytes, or
the C1 characters they became), fixed here; a line that is neither UTF-8 nor
Windows-1252 is skipped and listed with its file and line; quoted cells may hold commas
and quotes; ``Sr No.`` has gaps; a few clips are missing (dev ``dia110_utt7``) and are
skipped and listed; a corrupt clip (train ``dia125_utt3``, no audio stream ffprobe
finds) is skipped and listed; the wrongly cut test clips ``dia220_utt0`` and
``dia38_utt4`` (minutes long) stay in the official test set (test sets are dumped
whole); ``final_videos_test*.mp4`` are not clips of the csv and are ignored.
"""

import csv
import io
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import List

from osum.corpora.common import (
    BadLine,
    DataDir,
    LayoutError,
    check_layout,
    decode_lines,
    load_label_map,
    map_label,
    preparer_parser,
    probe_durations,
    run_preparer,
    short_row,
)

CLIP_DIRS = {
    "train": "train_splits",
    "dev": "dev_splits_complete",
    "test": "output_repeated_splits_test",
}
COLUMNS = ("Utterance", "Speaker", "Emotion", "Dialogue_ID", "Utterance_ID")
HINT = (
    "Set MELD in db.sh to the MELD.Raw dir, with train.tar.gz, dev.tar.gz and test.tar.gz "
    "extracted in it (local/download.sh does)."
)


def read_csv_text(path: Path, bad: List[BadLine] | None = None) -> str:
    """The csv as text, line by line: UTF-8, else Windows-1252 (a file can hold both: the
    lines that are UTF-8 are read as UTF-8); C1 control characters (Windows-1252 bytes
    read as Latin-1 somewhere on the way) become the punctuation they were. A line that
    is neither is an empty line (so that the csv reader's line numbers stay the file's)
    and goes to ``bad``."""
    lines = [
        (text or "") + "\n"
        for _, text in decode_lines(path, [] if bad is None else bad, ("utf-8", "cp1252"))
    ]
    text = "".join(lines)

    def fix(m):
        try:
            return m.group(0).encode("latin-1").decode("cp1252")
        except UnicodeDecodeError:
            return " "

    return re.sub("[\u0080-\u009f]", fix, text)


def ffmpeg_pipe(path: Path) -> str:
    return f"ffmpeg -nostdin -v error -i {shlex.quote(str(path))} -vn -ac 1 -ar 16000 -f wav - |"


def find(root: Path, split: str):
    """(csv, clip dir) in either layout."""
    name = f"{split}_sent_emo.csv"
    for base in (root, root / split):
        if (base / name).is_file():
            clips = base / CLIP_DIRS[split]
            if not clips.is_dir() and (root / CLIP_DIRS[split]).is_dir():
                clips = root / CLIP_DIRS[split]
            return base / name, clips
    archive = root / f"{split}.tar.gz"
    extra = f" ({archive} is there: extract it in {root})" if archive.is_file() else ""
    check_layout(
        "MELD",
        root,
        [(name, f"the {split} labels{extra}"), (CLIP_DIRS[split], f"the {split} clips")],
        HINT,
    )
    raise AssertionError("unreachable")


def prepare(root, split: str, out, label_map) -> dict:
    root = Path(root).absolute()  # data dirs hold absolute paths
    csv_path, clips = find(root, split)
    if shutil.which("ffmpeg") is None:  # before the data dirs, not at stage 2's every clip
        raise LayoutError(
            "MELD: the clips are mp4, read through ffmpeg, which is not on PATH: install it "
            "(tools/install.sh does; or apt-get install ffmpeg)"
        )
    if not clips.is_dir():
        raise LayoutError(f"MELD: no {CLIP_DIRS[split]}/ beside {csv_path}. {HINT}")
    emotions = load_label_map(label_map, "emotion")
    bad: List[BadLine] = []
    reader = csv.DictReader(io.StringIO(read_csv_text(csv_path, bad), newline=""))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise LayoutError(f"MELD: {csv_path}: no column {missing}; header: {reader.fieldnames}")
    d = DataDir(out, f"MELD {split}")
    d.skip_lines(bad)
    rows = []
    for row in reader:
        where = f"{csv_path.name}:{reader.line_num}"
        reason = short_row(row, COLUMNS)
        if reason:
            d.skip(where, reason)
            continue
        dia, num = row["Dialogue_ID"].strip(), row["Utterance_ID"].strip()
        speaker = re.sub(r"[^A-Za-z0-9]+", "_", row["Speaker"]).strip("_") or "unknown"
        utt = f"{speaker}-dia{dia}_utt{num}-{split}"
        clip = clips / f"dia{dia}_utt{num}.mp4"
        if not clip.is_file():
            d.skip(utt, f"{clip} is missing ({where})")
            continue
        label, reason = map_label(emotions, row["Emotion"], "emotion", where)
        if reason:
            d.skip(utt, reason)
            continue
        rows.append((utt, clip, speaker, row["Utterance"], label, where))
    seconds = probe_durations([r[1] for r in rows], jobs=os.cpu_count() or 1)
    for utt, clip, speaker, text, label, where in rows:
        dur = seconds[str(clip)]
        if dur is None:
            d.skip(utt, f"ffprobe finds no audio stream in {clip} ({where})")
            continue
        d.add(
            utt, ffmpeg_pipe(clip), speaker, text=text, task="SER", labels={"emotion": label},
            duration=dur,
        )  # fmt: skip
    return d.write()


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the MELD.Raw dir")
    parser.add_argument("--split", required=True, choices=list(CLIP_DIRS))
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--label_map", required=True, help="YAML with an emotion: map")
    run_preparer(
        "meld", parser, lambda a: prepare(a.root, a.split, a.out, a.label_map), argv,
        extra_errors=(csv.Error,),
    )  # fmt: skip


if __name__ == "__main__":
    main()
