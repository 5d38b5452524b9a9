"""ESC-50: VED on environmental sound clips, by folds.

    python -m osum.corpora.esc50 --root /data/ESC-50-master --folds 5 --out data/test \\
        --label_map conf/labels.yaml

Layout (the GitHub archive): ``<root>/meta/esc50.csv``
(``filename,fold,target,category,esc10,src_file,take``) and ``<root>/audio/*.wav``
(``1-100032-A-0.wav``: 5 s, 44.1 kHz, converted to 16 kHz by stage 2). The 50
categories go through the label map's ``event:`` (the vocal ones onto OSUM's events,
``"*"`` for the rest); clips from one source recording share a fold, so folds are the
splits. Clips have no speech: empty transcripts, targets that are the tag alone. A line
of the csv that is not UTF-8 is skipped and listed with its line.
"""

import csv
from pathlib import Path
from typing import List, Sequence

from osum.corpora.common import (
    BadLine,
    DataDir,
    LayoutError,
    check_layout,
    csv_lines,
    load_label_map,
    map_label,
    preparer_parser,
    run_preparer,
    short_row,
)

HINT = "Set ESC50 in db.sh to the ESC-50-master dir (holding meta/esc50.csv and audio/)."
COLUMNS = ("filename", "fold", "category", "src_file")


def prepare(root, folds: Sequence[int], out, label_map) -> dict:
    root = Path(root).absolute()  # data dirs hold absolute paths
    check_layout(
        "ESC-50", root, [("meta/esc50.csv", "the clip list"), ("audio/*.wav", "the clips")], HINT
    )
    events = load_label_map(label_map, "event")
    meta = root / "meta" / "esc50.csv"
    d = DataDir(out, f"ESC-50 folds {list(folds)}")
    bad: List[BadLine] = []  # lines that are not UTF-8, of no fold we can tell: listed
    reader = csv.DictReader(csv_lines(meta, bad))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise LayoutError(f"ESC-50: {meta}: no column {missing}; header: {reader.fieldnames}")
    for row in reader:
        where = f"esc50.csv:{reader.line_num}"
        if row["fold"] is None:  # a row that ends before its fold
            d.skip(where, short_row(row, COLUMNS) or "no fold")
            continue
        try:
            fold = int(row["fold"])
        except ValueError:
            d.skip(where, f"fold {row['fold']!r} is not a number")
            continue
        if fold not in folds:
            continue
        reason = short_row(row, COLUMNS)
        if reason:
            d.skip(where, reason)
            continue
        stem = Path(row["filename"]).stem
        spk = f"esc{row['src_file'].strip() or stem}"
        utt = f"{spk}-{stem}"
        wav = root / "audio" / row["filename"]
        if not wav.is_file():
            d.skip(utt, f"{wav} is missing ({where})")
            continue
        label, reason = map_label(events, row["category"], "event", where)
        if reason:
            d.skip(utt, reason)
            continue
        d.add(utt, str(wav), spk, text="", task="VED", labels={"event": label})
    d.skip_lines(bad)
    return d.write()


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the ESC-50-master dir")
    parser.add_argument("--folds", type=int, nargs="+", required=True, choices=range(1, 6))
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--label_map", required=True, help="YAML with an event: map")
    run_preparer(
        "esc50", parser, lambda a: prepare(a.root, a.folds, a.out, a.label_map), argv,
        extra_errors=(csv.Error,),
    )  # fmt: skip


if __name__ == "__main__":
    main()
