"""Common Voice: SAP (age) and SGC (gender) from the speakers' own metadata, and ASR.

    python -m osum.corpora.commonvoice --root /data/cv-corpus-17.0/en --split test \\
        --out data/test --tasks SAP SGC --label_map conf/labels.yaml

Two layouts, told apart by their files:
  * an official release: ``<root>/{train,dev,test}.tsv`` and ``<root>/clips/*.mp3``; the
    tsv columns are found by name (they changed across releases: ``accent``/``accents``,
    ``variant``, ``sentence_id``, ``sentence_domain``), and the file is read without quote
    processing (sentences contain unbalanced ``"``);
  * Kaggle's "Common Voice" (release 1): ``<root>/cv-valid-{train,dev,test}.csv`` with
    ``filename,text,up_votes,down_votes,age,gender,accent,duration``; the mp3 files are at
    ``<root>/<filename>`` or, as the Kaggle download unpacks, one dir deeper
    (``<root>/cv-valid-train/cv-valid-train/sample-000000.mp3``). It has no speaker ids:
    every clip is its own speaker.
The age words (``teens`` ... ``nineties``, ``fourties`` as spelt) and the gender values of
old and new releases go through the recipe's label map (``age:`` and ``gender:``); a clip
without the value, or with one the map drops, loses only that task. A line of the tsv or
csv that is not UTF-8 is skipped and listed with its file and line.
"""

import csv
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple

from osum.corpora.common import (
    BadLine,
    DataDir,
    LayoutError,
    check_layout,
    check_tasks,
    csv_lines,
    load_label_map,
    map_label,
    parse_fractions,
    preparer_parser,
    run_preparer,
    task_copies,
)

SPLITS = ("train", "dev", "test")
TASKS = ("ASR", "SAP", "SGC")
FIELDS = {"SAP": "age", "SGC": "gender"}
HINT = (
    "Set COMMONVOICE in db.sh to a release's language dir (holding train.tsv and clips/) "
    "or to the dir of Kaggle's cv-valid-*.csv files."
)


def layout(root: Path) -> str:
    if (root / "train.tsv").is_file() or (root / "test.tsv").is_file():
        return "official"
    if any(root.glob("cv-valid-*.csv")):
        return "kaggle"
    check_layout(
        "Common Voice",
        root,
        [("test.tsv", "an official release's split"), ("cv-valid-test.csv", "or Kaggle's")],
        HINT,
    )
    return "official"


def rows_official(root: Path, split: str, bad: List[BadLine]) -> Iterator[Tuple[int, dict, Path]]:
    """(line, row, tsv) of a release's split; a line that is not UTF-8 goes to ``bad``."""
    path = root / f"{split}.tsv"
    reader = csv.reader(csv_lines(path, bad), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if not header or "path" not in header or "sentence" not in header:
        raise LayoutError(f"Common Voice: {path}: header has no 'path' and 'sentence' columns")
    for lineno, cells in enumerate(reader, 2):
        if not cells and bad and bad[-1].lineno == lineno:
            continue  # listed in bad
        if len(cells) != len(header):
            yield lineno, {"_error": f"{len(cells)} cells, the header has {len(header)}"}, path
            continue
        row = dict(zip(header, cells))
        row["_audio"] = str(root / "clips" / row["path"])
        yield lineno, row, path


def rows_kaggle(root: Path, split: str, bad: List[BadLine]) -> Iterator[Tuple[int, dict, Path]]:
    """(line, row, csv) of Kaggle's split; a line that is not UTF-8 goes to ``bad``."""
    path = root / f"cv-valid-{split}.csv"
    reader = csv.DictReader(csv_lines(path, bad))
    if not reader.fieldnames or "filename" not in reader.fieldnames:
        raise LayoutError(f"Common Voice: {path}: header has no 'filename' column")
    for row in reader:
        lineno = reader.line_num  # a quoted cell may hold a line break
        # csv.DictReader: a short row's missing cells are None, a long row's extra
        # cells a list under the key None
        cells = sum(v is not None for k, v in row.items() if k is not None)
        cells += len(row.get(None) or [])
        if cells != len(reader.fieldnames):
            n = len(reader.fieldnames)
            yield lineno, {"_error": f"{cells} cells, the header has {n}"}, path
            continue
        name = row.get("filename") or ""
        audio = root / name
        if not audio.is_file():  # the Kaggle download: <root>/cv-valid-train/cv-valid-train/
            audio = root / Path(name).parent / name
        row = dict(row, sentence=row.get("text") or "", client_id="", _audio=str(audio))
        yield lineno, row, path


def prepare(
    root,
    split: str,
    out,
    tasks: Sequence[str] = ("SAP", "SGC"),
    label_map=None,
    fractions: Dict[str, float] | None = None,
) -> dict:
    root = Path(root).absolute()  # data dirs hold absolute paths
    check_tasks("commonvoice", tasks, TASKS)
    kind = layout(root)
    name = f"{split}.tsv" if kind == "official" else f"cv-valid-{split}.csv"
    check_layout("Common Voice", root, [(name, f"the {split} split")], HINT)
    maps = {}
    for task in tasks:
        if task in FIELDS:
            if label_map is None:
                raise ValueError(
                    f"commonvoice: {task} needs --label_map (the recipe's labels.yaml)"
                )
            maps[task] = load_label_map(label_map, FIELDS[task])
    release = "Kaggle" if kind == "kaggle" else "official release"
    d = DataDir(out, f"Common Voice ({release}) {split}")
    bad: List[BadLine] = []
    rows = rows_official if kind == "official" else rows_kaggle
    for lineno, row, path in rows(root, split, bad):
        where = f"{path.name}:{lineno}"
        if "_error" in row:
            d.skip(where, row["_error"])
            continue
        audio = Path(row["_audio"])
        stem = audio.stem
        spk = (row.get("client_id") or "")[:16] or f"cv-{stem}"
        utt = f"{spk}-{stem}" if row.get("client_id") else spk
        if not audio.is_file():
            d.skip(utt, f"{audio} is missing ({where})")
            continue
        text = row.get("sentence") or ""
        if not text.strip():
            d.skip(utt, f"empty sentence ({where})")
            continue
        for task, uid in task_copies(utt, tasks, fractions):
            if task == "ASR":
                d.add(uid, str(audio), spk, text=text)
                continue
            field = FIELDS[task]
            value = (row.get(field) or "").strip()
            if not value:
                d.skip(uid, f"no {field} ({where})")
                continue
            label, reason = map_label(maps[task], value, field, where)
            if reason:
                d.skip(uid, reason)
                continue
            d.add(uid, str(audio), spk, text=text, task=task, labels={field: label})
    d.skip_lines(bad)
    return d.write()


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="a release's language dir, or Kaggle's")
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--tasks", nargs="+", default=["SAP", "SGC"], choices=TASKS)
    parser.add_argument("--label_map", default=None, help="YAML with age: and gender: maps")
    parser.add_argument("--fraction", action="append", default=[], metavar="TASK=F")

    def run(args):
        fractions = parse_fractions(args.fraction, args.tasks)
        prepare(args.root, args.split, args.out, args.tasks, args.label_map, fractions)

    run_preparer("commonvoice", parser, run, argv)


if __name__ == "__main__":
    main()
