"""LibriSpeech (openslr 12): ASR, SGC (gender from SPEAKERS.TXT), SRWT (MFA word times).

    python -m osum.corpora.librispeech --root /data/LibriSpeech --subsets test-clean \\
        --out data/test_clean --tasks ASR SGC SRWT [--alignments DIR] \\
        --label_map conf/labels.yaml    # its gender: map of SPEAKERS.TXT's SEX codes (SGC)

Several subsets (``--subsets train-clean-100 train-clean-360``) make one data dir.

Layout: ``<root>/SPEAKERS.TXT`` and ``<root>/<subset>/<spk>/<chapter>/`` with
``<spk>-<chapter>.trans.txt`` and ``<spk>-<chapter>-<n>.flac``. Word times are the public
Montreal-Forced-Aligner alignments, in either published form:
  * ``<spk>-<chapter>.alignment.txt`` per chapter (CorentinJ/librispeech-alignments):
    ``<utt> ",WORD,,WORD," "0.490,0.890,..."`` (words with empty silences, end times);
  * ``<spk>-<chapter>-<n>.TextGrid`` per utterance (Zenodo 2619474), tier ``words``.
``--alignments`` is the dir holding ``<subset>/...`` (default: the corpus root, into which
both archives are usually unpacked).

Each task gets its own copy of an utterance: ``<utt>`` for ASR, ``<utt>-sgc``,
``<utt>-srwt``; ``--fraction TASK=F`` keeps a deterministic fraction F of a task's copies.
An utterance without flac, transcript, speaker gender or alignment loses only the tasks
that need it, and is listed in ``skipped``.
"""

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from osum.corpora.common import (
    DataDir,
    LayoutError,
    audio_duration,
    check_layout,
    load_label_map,
    map_label,
    parse_fractions,
    task_copies,
)

SUBSETS = [
    "dev-clean", "dev-other", "test-clean", "test-other",
    "train-clean-100", "train-clean-360", "train-other-500",
]  # fmt: skip
TASKS = ("ASR", "SGC", "SRWT")
HINT = "Set LIBRISPEECH in db.sh to the dir holding SPEAKERS.TXT (local/download.sh fetches it)."


def read_speakers(path: Path) -> Dict[str, str]:
    """{speaker: SEX code as written (F, M)}; ';' lines are comments, names may contain '|'."""
    out = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if line.startswith(";") or not line.strip():
                continue
            fields = [x.strip() for x in line.split("|", 4)]
            if len(fields) < 3 or not fields[0].isdigit():
                print(
                    f"librispeech: {path}:{lineno}: not 'ID | SEX | ...', ignored", file=sys.stderr
                )
                continue
            if fields[1]:
                out[fields[0]] = fields[1]
    return out


def _is_number(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


def read_alignment_txt(path: Path) -> Dict[str, List[Tuple[float, float, str]]]:
    """CorentinJ's per-chapter file -> {utt: [(start, end, word)]} (silences dropped)."""
    out = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = re.fullmatch(r'\s*(\S+)\s+"([^"]*)"\s+"([^"]*)"\s*', line)
        if not m:
            if line.strip():
                print(
                    f"librispeech: {path}:{lineno}: not an alignment line, ignored", file=sys.stderr
                )
            continue
        words, ends = m.group(2).split(","), m.group(3).split(",")
        if len(words) != len(ends):
            print(
                f"librispeech: {path}:{lineno}: {len(words)} words, {len(ends)} times",
                file=sys.stderr,
            )
            continue
        bad = next((e for e in ends if not _is_number(e)), None)
        if bad is not None:
            print(f"librispeech: {path}:{lineno}: time {bad!r} is not a number", file=sys.stderr)
            continue
        times = [float(e) for e in ends]
        start, items = 0.0, []
        for w, end in zip(words, times):
            if w:
                items.append((start, end, w))
            start = end
        out[m.group(1)] = items
    return out


def read_textgrid_words(path: Path) -> List[Tuple[float, float, str]]:
    """The ``words`` tier of a (long-format) Praat TextGrid, empty intervals dropped and
    Praat's doubled quotes (``""`` inside a mark) undone."""
    text = path.read_text(encoding="utf-8", errors="replace")
    tiers = re.split(r"item\s*\[\d+\]\s*:", text)[1:]
    for tier in tiers:
        name = re.search(r'name\s*=\s*"([^"]*)"', tier)
        if not name or name.group(1) != "words":
            continue
        out = []
        for xmin, xmax, mark in re.findall(
            r'xmin\s*=\s*([\d.]+)\s*xmax\s*=\s*([\d.]+)\s*text\s*=\s*"((?:[^"]|"")*)"', tier
        ):
            mark = mark.replace('""', '"').strip()
            if mark:
                out.append((float(xmin), float(xmax), mark))
        return out
    raise ValueError(f"{path}: no 'words' tier")


def prepare(
    root,
    subsets: Sequence[str],
    out,
    tasks=("ASR",),
    alignments=None,
    fractions: Dict[str, float] | None = None,
    label_map=None,
) -> dict:
    """``label_map``: a YAML file whose ``gender:`` maps SPEAKERS.TXT's SEX codes onto
    OSUM's genders (needed for SGC)."""
    root = Path(root).absolute()  # data dirs hold absolute paths
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        raise ValueError(f"librispeech: tasks {bad} are not among {list(TASKS)}")
    if isinstance(subsets, str):
        subsets = [subsets]
    expected = [(f"{s}/*/*/*.trans.txt", f"{s} transcripts") for s in subsets]
    if "SGC" in tasks:
        expected.append(("SPEAKERS.TXT", "speaker genders"))
    check_layout("LibriSpeech", root, expected, HINT)
    align_root = Path(alignments).absolute() if alignments else root
    if "SRWT" in tasks:
        for s in subsets:  # either form of the alignments, not just any file
            if not any(align_root.glob(f"{s}/*/*/*.alignment.txt")) and not any(
                align_root.glob(f"{s}/*/*/*.TextGrid")
            ):
                raise LayoutError(
                    f"LibriSpeech alignments: no {align_root}/{s}/<spk>/<chapter>/"
                    "<spk>-<chapter>.alignment.txt nor <utt>.TextGrid files for SRWT. Set "
                    "LIBRISPEECH_ALIGNMENTS in db.sh to the dir holding <subset>/ of the MFA "
                    "alignments (local/download.sh says where to get them), or leave SRWT "
                    "out (--tasks)."
                )
    genders, gender_map = {}, {}
    if "SGC" in tasks:
        if not label_map:
            raise ValueError("SGC needs --label_map: a YAML with a gender: map of SEX codes")
        gender_map = load_label_map(label_map, "gender")
        genders = read_speakers(root / "SPEAKERS.TXT")
    d = DataDir(out, f"LibriSpeech {' '.join(subsets)}")
    chapters = [(s, t) for s in subsets for t in sorted((root / s).glob("*/*/*.trans.txt"))]
    for subset, trans in chapters:
        spk, chapter = trans.parent.parent.name, trans.parent.name
        align = {}
        if "SRWT" in tasks:
            a = align_root / subset / spk / chapter / f"{spk}-{chapter}.alignment.txt"
            if a.is_file():
                align = read_alignment_txt(a)
        for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split(maxsplit=1)
            if not parts:
                continue
            utt = parts[0]
            text = parts[1] if len(parts) > 1 else ""
            flac = trans.parent / f"{utt}.flac"
            if not flac.is_file():
                d.skip(utt, f"{flac} is missing ({trans}:{lineno})")
                continue
            if not text.strip():
                d.skip(utt, f"empty transcript ({trans}:{lineno})")
                continue
            dur = audio_duration(flac) if "SRWT" in tasks else None
            spk_id = f"{spk}-{chapter}"  # Kaldi's LibriSpeech convention
            for task, uid in task_copies(utt, tasks, fractions):
                if task == "ASR":
                    d.add(uid, str(flac), spk_id, text=text, duration=dur)
                elif task == "SGC":
                    if spk not in genders:
                        d.skip(uid, f"speaker {spk} has no line in SPEAKERS.TXT")
                        continue
                    where = f"SPEAKERS.TXT, speaker {spk}"
                    label, reason = map_label(gender_map, genders[spk], "gender", where)
                    if reason:
                        d.skip(uid, reason)
                        continue
                    labels = {"gender": label}
                    d.add(
                        uid, str(flac), spk_id, text=text, task="SGC", labels=labels, duration=dur
                    )
                else:
                    words = align.get(utt)
                    tg = align_root / subset / spk / chapter / f"{utt}.TextGrid"
                    if words is None and tg.is_file():
                        try:
                            words = read_textgrid_words(tg)
                        except ValueError as e:
                            d.skip(uid, str(e))
                            continue
                    if not words:
                        d.skip(uid, "no word alignment (the aligner left it out)")
                        continue
                    if any("<" in w or ">" in w for _, _, w in words):
                        d.skip(uid, "alignment has <unk>-like words")
                        continue
                    if dur is not None and words[-1][1] > dur + 0.02:
                        d.skip(
                            uid,
                            f"alignment ends at {words[-1][1]:.2f} s, after the audio ({dur:.2f} s)",
                        )
                        continue
                    d.add(uid, str(flac), spk_id, text=text, task="SRWT", ctm=words, duration=dur)
    return d.write()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the dir holding SPEAKERS.TXT")
    parser.add_argument("--subsets", nargs="+", required=True, choices=SUBSETS)
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--tasks", nargs="+", default=["ASR"], choices=TASKS)
    parser.add_argument("--alignments", default=None, help="dir holding <subset>/ alignments")
    parser.add_argument(
        "--fraction", action="append", default=[], metavar="TASK=F",
        help="keep a fraction of a task's copies (e.g. SGC=0.1)",
    )  # fmt: skip
    parser.add_argument("--label_map", default=None, help="YAML with a gender: map (for SGC)")
    args = parser.parse_args(argv)
    try:
        fractions = parse_fractions(args.fraction, args.tasks)
        prepare(
            args.root,
            args.subsets,
            args.out,
            args.tasks,
            args.alignments,
            fractions,
            args.label_map,
        )
    except (LayoutError, ValueError, OSError) as e:
        sys.exit(f"librispeech: {e}")


if __name__ == "__main__":
    main()
