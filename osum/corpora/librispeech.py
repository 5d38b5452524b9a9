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
that need it, and is listed in ``skipped``; so does one whose transcript line is not
UTF-8 (a Latin-1 byte, say), named with its file and line. A subset asked for but not in
the corpus is named, with where it was looked for, before anything is read
(``--check_only`` does only that, for ``local/data.sh`` to check every set it prepares).
"""

import re
import sys
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple

from osum.corpora.common import (
    BadLine,
    DataDir,
    LayoutError,
    audio_duration,
    check_tasks,
    decode_lines,
    load_label_map,
    map_label,
    parse_fractions,
    preparer_parser,
    run_preparer,
    task_copies,
    text_lines,
)

SUBSETS = [
    "dev-clean", "dev-other", "test-clean", "test-other",
    "train-clean-100", "train-clean-360", "train-other-500",
]  # fmt: skip
TASKS = ("ASR", "SGC", "SRWT")
# a speaker -> (SGC's label, None) or (None, reason to skip)
GenderOf = Callable[[str], Tuple[str | None, str | None]]
HINT = "Set LIBRISPEECH in db.sh to the dir holding SPEAKERS.TXT (local/download.sh fetches it)."


def read_speakers(path: Path, bad: List[BadLine] | None = None) -> Dict[str, str]:
    """{speaker: SEX code as written (F, M)}; ';' lines are comments, names may contain '|'.
    Only the ID and SEX columns are used: a byte that is not UTF-8 elsewhere (in a name)
    costs nothing (``bad`` is kept for the callers' reports and stays empty)."""
    out = {}
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, 1):
        if line.startswith(";") or not line.strip():
            continue
        fields = [x.strip() for x in line.split("|", 4)]
        if len(fields) < 3 or not fields[0].isdigit():
            print(f"librispeech: {path}:{lineno}: not 'ID | SEX | ...', ignored", file=sys.stderr)
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


def read_alignment_txt(path: Path, errors: Dict[str, str] | None = None):
    """CorentinJ's per-chapter file -> {utt: [(start, end, word)]} (silences dropped); why
    a line could not be read goes to ``errors`` ({utt or file:line: reason}) and stderr."""
    out, errors = {}, ({} if errors is None else errors)
    bad: List[BadLine] = []
    for lineno, line in text_lines(path, bad):
        m = re.fullmatch(r'\s*(\S+)\s+"([^"]*)"\s+"([^"]*)"\s*', line)
        if not m:
            if line.strip():
                print(
                    f"librispeech: {path}:{lineno}: not an alignment line, ignored", file=sys.stderr
                )
            continue
        words, ends = m.group(2).split(","), m.group(3).split(",")
        where = f"{path.name}:{lineno}"
        if len(words) != len(ends):
            errors[m.group(1)] = f"{where}: {len(words)} words, {len(ends)} times"
            print(f"librispeech: {path}:{lineno}: {len(words)} words, {len(ends)} times",
                  file=sys.stderr)  # fmt: skip
            continue
        bad_end = next((e for e in ends if not _is_number(e)), None)
        if bad_end is not None:
            errors[m.group(1)] = f"{where}: time {bad_end!r} is not a number"
            print(f"librispeech: {path}:{lineno}: time {bad_end!r} is not a number",
                  file=sys.stderr)  # fmt: skip
            continue
        times = [float(e) for e in ends]
        start, items = 0.0, []
        for w, end in zip(words, times):
            if w:
                items.append((start, end, w))
            start = end
        out[m.group(1)] = items
    for b in bad:
        errors[b.key or b.where] = f"{path.name}:{b.lineno}: {b.reason}"
    return out


def read_textgrid_words(path: Path) -> List[Tuple[float, float, str]]:
    """The ``words`` tier of a (long-format) Praat TextGrid, empty intervals dropped and
    Praat's doubled quotes (``""`` inside a mark) undone."""
    raw = path.read_bytes()
    try:  # MFA writes UTF-8; Praat may write UTF-16 (with its byte order mark)
        text = raw.decode("utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not valid UTF-8 (byte 0x{raw[e.start]:02x})") from None
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
    check_tasks("librispeech", tasks, TASKS)
    if isinstance(subsets, str):
        subsets = [subsets]
    align_root = check(root, subsets, tasks, alignments)
    gender_of = speaker_genders(root, label_map) if "SGC" in tasks else None
    d = DataDir(out, f"LibriSpeech {' '.join(subsets)}")
    for subset in subsets:
        for trans in sorted((root / subset).glob("*/*/*.trans.txt")):
            add_chapter(d, trans, align_root / subset, tasks, fractions, gender_of)
    return d.write()


def check(root: Path, subsets: Sequence[str], tasks: Sequence[str], alignments=None) -> Path:
    """LayoutError naming each subset asked for that is not in the corpus (a line each,
    with where it was looked for), then what else the tasks need; returns the alignments'
    root. Quick: it looks for one transcript of each subset, before the long pass."""
    root = Path(root).absolute()
    if not root.is_dir():
        raise LayoutError(f"LibriSpeech: {root} is not a directory. {HINT}")
    lines = [
        f"subset {s} was asked for but is not in {root} (no "
        f"{root / s}/<spk>/<chapter>/<spk>-<chapter>.trans.txt)"
        for s in subsets
        if not any((root / s).glob("*/*/*.trans.txt"))
    ]
    if lines:
        lines.append(
            "download it (local/download.sh SUBSET) or leave it out (local/data.sh "
            "--train_subsets, --dev_subsets, --test_subsets; run.sh --valid_set and "
            "--test_sets to match)"
        )
    if "SGC" in tasks and not (root / "SPEAKERS.TXT").is_file():
        lines.append(f"no {root / 'SPEAKERS.TXT'}, the speaker genders SGC needs")
    if lines:  # a line each, as the command line says them: "librispeech: <line>"
        raise LayoutError("\nlibrispeech: ".join(lines + [HINT]))
    align_root = Path(alignments).absolute() if alignments else root
    if "SRWT" in tasks:
        check_alignments(align_root, subsets)
    return align_root


def check_alignments(align_root: Path, subsets: Sequence[str]) -> None:
    """LayoutError unless each subset has word alignments in either form (not just any
    file), before the long pass over the corpus."""
    for s in subsets:
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


def speaker_genders(root: Path, label_map) -> GenderOf:
    """SGC's labels: a speaker -> (task label, None) or (None, reason to skip), from
    SPEAKERS.TXT's SEX codes through the label map's ``gender:``."""
    if not label_map:
        raise ValueError("SGC needs --label_map: a YAML with a gender: map of SEX codes")
    gender_map = load_label_map(label_map, "gender")
    bad: List[BadLine] = []
    sexes = read_speakers(root / "SPEAKERS.TXT", bad)
    bad_lines = {b.head.split("|")[0].strip(): b for b in bad}

    def gender_of(spk: str):
        if spk in bad_lines:
            b = bad_lines[spk]
            return None, f"speaker {spk}'s line {b.where} is {b.reason}"
        if spk not in sexes:
            return None, f"speaker {spk} has no line in SPEAKERS.TXT"
        return map_label(gender_map, sexes[spk], "gender", f"SPEAKERS.TXT, speaker {spk}")

    return gender_of


def add_chapter(
    d: DataDir,
    trans: Path,
    align_dir: Path,
    tasks: Sequence[str],
    fractions: Dict[str, float] | None,
    gender_of: GenderOf | None,
) -> None:
    """The utterances of one chapter (``<spk>-<chapter>.trans.txt``), a copy per task;
    ``align_dir``: the dir holding the subset's ``<spk>/<chapter>/`` alignments."""
    spk, chapter = trans.parent.parent.name, trans.parent.name
    aligned = align_dir / spk / chapter  # the chapter's alignments, in either form
    align, align_errors = {}, {}
    if "SRWT" in tasks:
        a = aligned / f"{spk}-{chapter}.alignment.txt"
        if a.is_file():
            align = read_alignment_txt(a, align_errors)
    spk_id = f"{spk}-{chapter}"  # Kaldi's LibriSpeech convention
    bad: List[BadLine] = []
    for lineno, line in decode_lines(trans, bad):
        if line is None:  # not UTF-8: the utterance its id names is skipped, and said
            b = bad[-1]
            d.skip(b.key or b.where, f"its transcript line {b.where} is {b.reason}")
            continue
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
        for task, uid in task_copies(utt, tasks, fractions):
            labels, ctm, reason = None, None, None
            if task == "SGC":
                label, reason = gender_of(spk)
                labels = {"gender": label}
            elif task == "SRWT":
                grid = aligned / f"{utt}.TextGrid"
                ctm, reason = word_times(utt, align, grid, dur, align_errors.get(utt))
            if reason:
                d.skip(uid, reason)
                continue
            d.add(
                uid, str(flac), spk_id, text=text, task=task, labels=labels, ctm=ctm, duration=dur
            )


def word_times(
    utt: str, align: Dict[str, list], textgrid: Path, dur: float | None, error: str | None = None
):
    """(words [(start, end, word)], None) of an utterance, from its chapter's alignments
    ``align`` or else its TextGrid, or (None, reason to skip); ``error``: why its line of
    the chapter's alignments could not be read, if it could not."""
    words = align.get(utt)
    if words is None and textgrid.is_file():
        try:
            words = read_textgrid_words(textgrid)
        except ValueError as e:
            return None, str(e)
    if not words:
        return None, f"no word alignment ({error or 'the aligner left it out'})"
    if any("<" in w or ">" in w for _, _, w in words):
        return None, "alignment has <unk>-like words"
    if dur is not None and words[-1][1] > dur + 0.02:
        return None, f"alignment ends at {words[-1][1]:.2f} s, after the audio ({dur:.2f} s)"
    return words, None


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the dir holding SPEAKERS.TXT")
    parser.add_argument("--subsets", nargs="+", required=True, choices=SUBSETS)
    parser.add_argument("--out", default=None, help="data dir to write")
    parser.add_argument("--tasks", nargs="+", default=["ASR"], choices=TASKS)
    parser.add_argument("--alignments", default=None, help="dir holding <subset>/ alignments")
    parser.add_argument(
        "--fraction", action="append", default=[], metavar="TASK=F",
        help="keep a fraction of a task's copies (e.g. SGC=0.1)",
    )  # fmt: skip
    parser.add_argument("--label_map", default=None, help="YAML with a gender: map (for SGC)")
    parser.add_argument(
        "--check_only", action="store_true",
        help="only check that the corpus has the subsets (and what the tasks need)",
    )  # fmt: skip

    def run(a):
        if a.check_only:
            check_tasks("librispeech", a.tasks, TASKS)
            check(a.root, a.subsets, a.tasks, a.alignments)
            return
        if not a.out:
            parser.error("--out is required")
        fractions = parse_fractions(a.fraction, a.tasks)
        prepare(a.root, a.subsets, a.out, a.tasks, a.alignments, fractions, a.label_map)

    run_preparer("librispeech", parser, run, argv)


if __name__ == "__main__":
    main()
