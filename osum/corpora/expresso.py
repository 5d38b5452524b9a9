"""Expresso: SSR with the corpus's own style labels, on its read speech.

    python -m osum.corpora.expresso --root /data/expresso --split test --out data/test \\
        --label_map conf/labels.yaml

Layout of ``expresso.tar``: ``<root>/audio_48khz/read/<spk>/<style>/base/<id>.wav`` (ids
``ex01_confused_00001``, ``ex03_default_emphasis_00010``: speaker, style, an optional
sub-style, number), ``<root>/read_transcriptions.txt`` (``<id><TAB><text>``) and the
official splits ``<root>/splits/{train,dev,test}.txt`` (a ``#`` comment line, then an
id a line, optionally with a time span). The read ``base`` utterances are used whole;
long-form narration and the improvised dialogues are minutes long without utterance
transcripts, so they are skipped and counted. Styles (and sub-styles such as
``default_emphasis``) go through the label map's ``style:``; the recipe's task config
makes them the SSR label set. A line that is not UTF-8 is skipped and listed with its file
and line (a transcript's as its utterance's reason).
"""

from pathlib import Path
from typing import List

from osum.corpora.common import (
    BadLine,
    DataDir,
    check_layout,
    load_label_map,
    map_label,
    preparer_parser,
    run_preparer,
    text_lines,
)

SPLITS = ("train", "dev", "test")
HINT = "Set EXPRESSO in db.sh to the dir expresso.tar was unpacked in (audio_48khz/, splits/)."


def prepare(root, split: str, out, label_map) -> dict:
    root = Path(root).absolute()  # data dirs hold absolute paths
    check_layout(
        "Expresso",
        root,
        [
            (f"splits/{split}.txt", f"the {split} split"),
            ("read_transcriptions.txt", "the read speech's transcripts"),
            ("audio_48khz/read", "the read speech"),
        ],
        HINT,
    )
    styles = load_label_map(label_map, "style")
    texts, bad_texts = {}, []
    for _, line in text_lines(root / "read_transcriptions.txt", bad_texts):
        key, _, text = line.partition("\t")
        if key.strip():
            texts[key.strip()] = text.strip()
    bad_text = {b.key: b for b in bad_texts}
    d = DataDir(out, f"Expresso {split}")
    not_read = 0
    bad: List[BadLine] = []
    for lineno, line in text_lines(root / "splits" / f"{split}.txt", bad):
        if not line.strip() or line.startswith("#"):
            continue
        uid = line.split("\t")[0].strip()
        where = f"splits/{split}.txt:{lineno}"
        parts = uid.split("_")
        if "-" in parts[0] or "longform" in parts or len(parts) < 3:
            not_read += 1  # dialogues and long-form narration
            continue
        spk, style = parts[0], parts[1]
        wav = root / "audio_48khz" / "read" / spk / style / "base" / f"{uid}.wav"
        if not wav.is_file():
            d.skip(uid, f"{wav} is missing ({where})")
            continue
        if uid in bad_text:
            b = bad_text[uid]
            d.skip(uid, f"its transcript line {b.where} is {b.reason}")
            continue
        if uid not in texts:
            d.skip(uid, f"no line in read_transcriptions.txt ({where})")
            continue
        substyle = "_".join(parts[1:-1])  # default_emphasis, or the style itself
        label, reason = map_label(styles, substyle, "style", where)
        if reason:
            d.skip(uid, reason)
            continue
        d.add(uid, str(wav), spk, text=texts[uid], task="SSR", labels={"style": label})
    d.skip_lines(bad)
    if not_read:
        d.skip(f"{split}.txt", f"{not_read} dialogue or long-form entries (not used)")
    return d.write()


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the dir holding audio_48khz/ and splits/")
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--label_map", required=True, help="YAML with a style: map")
    run_preparer("expresso", parser, lambda a: prepare(a.root, a.split, a.out, a.label_map), argv)


if __name__ == "__main__":
    main()
