"""IEMOCAP: SER (and SGC with ``--tasks``), split by session.

    python -m osum.corpora.iemocap --root /data/IEMOCAP_full_release --test_sessions 5 \\
        --dev_share 0.1 --out data --label_map conf/labels.yaml   # data/{train,dev,test}

Layout: ``<root>/Session<N>/dialog/EmoEvaluation/<dialog>.txt`` (one summary line per
turn: ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``),
``<root>/Session<N>/dialog/transcriptions/<dialog>.txt``
(``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``) and
``<root>/Session<N>/sentences/wav/<dialog>/<turn>.wav``. The speaker's sex is the first
letter of the turn's last field (``F000``); speakers are ``Ses01F``, ``Ses01M``, ...

The sets are split by session (each session's two actors are in one set only):
``--test_sessions`` (the usual leave-one-session-out: one of them), ``--dev_sessions``,
and ``--train_sessions`` (default: every session in neither). Without dev sessions,
``--dev_share F`` holds a deterministic share F of the training sessions' dialogs out
as the dev set. :func:`session_split` checks the choice (sessions 1-5, none in two sets,
a test, a training and a dev set) before anything is read.

The emotion codes (neu, hap, exc, sad, ang, fru, sur, fea, dis, oth, xxx) go through the
recipe's label map; the usual four-class setup maps exc with hap and leaves out the rest.
Only the top level of ``EmoEvaluation/`` is read (its ``Categorical/``, ``Attribute/``
and ``Self-evaluation/`` hold the single annotators' files), and macOS ``._`` files are
ignored. A line that is not UTF-8 is skipped and listed with its file and line.
"""

import re
import zlib
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Set, Tuple

from osum.corpora.common import (
    BadLine,
    DataDir,
    check_layout,
    check_tasks,
    load_label_map,
    map_label,
    preparer_parser,
    run_preparer,
    text_lines,
)
from osum.data.mix import keep_fraction

SESSIONS = (1, 2, 3, 4, 5)
TASKS = ("SER", "SGC")
HINT = "Set IEMOCAP in db.sh to the IEMOCAP_full_release dir (holding Session1/ ... Session5/)."
SUMMARY = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)")
TRANSCRIPT = re.compile(r"^(\S+)\s+\[\s*[\d.]+\s*-\s*[\d.]+\s*\]:\s*(.*)$")


def session_split(
    test: Sequence[int], dev: Sequence[int] = (), train: Sequence[int] = (), dev_share=0.0
) -> Dict[str, List[int]]:
    """{"train", "dev", "test": sessions} of a choice of sessions, checked: sessions among
    1-5, none in two sets, a test set, a training set (by default every session in
    neither of the others) and a dev set (its sessions, or a ``dev_share`` in (0, 1) of
    the training sessions' dialogs: then "dev" is empty). ValueError saying what is wrong."""
    sets = {"test": list(test), "dev": list(dev), "train": list(train)}
    for name, sessions in sets.items():
        bad = [n for n in sessions if n not in SESSIONS]
        if bad:
            raise ValueError(
                f"--{name}_sessions {' '.join(map(str, bad))}: IEMOCAP's sessions "
                "are 1, 2, 3, 4 and 5"
            )
        if len(set(sessions)) != len(sessions):
            raise ValueError(f"--{name}_sessions names a session twice: {sessions}")
    for a, b in (("test", "dev"), ("test", "train"), ("dev", "train")):
        both = sorted(set(sets[a]) & set(sets[b]))
        if both:
            raise ValueError(
                f"session {both[0]} is in both --{a}_sessions and --{b}_sessions; "
                "a session's speakers belong to one set only"
            )
    if not sets["test"]:
        raise ValueError("--test_sessions names no session to test on")
    if not sets["train"]:
        sets["train"] = [n for n in SESSIONS if n not in sets["test"] + sets["dev"]]
        if not sets["train"]:
            raise ValueError(
                f"no session is left to train on (test {sets['test']}, dev {sets['dev']})"
            )
    if sets["dev"] and dev_share:
        raise ValueError("--dev_sessions and --dev_share each make a dev set: give one")
    if not sets["dev"] and not 0 < dev_share < 1:
        raise ValueError(
            f"no dev set: give --dev_sessions, or a --dev_share between 0 and 1 (not "
            f"{dev_share}) of the training sessions' dialogs"
        )
    return sets


def prepare_split(
    root, split: Mapping[str, Sequence[int]], out, label_map, tasks=("SER",), dev_share=0.0
) -> dict:
    """``<out>/{train,dev,test}`` of a :func:`session_split`, the layout of every session
    checked first."""
    root = Path(root).absolute()
    check_tasks("iemocap", tasks, TASKS)
    check_layout(
        "IEMOCAP", root, expected_layout(sorted({n for v in split.values() for n in v})), HINT
    )
    out = Path(out)
    summary = {"test": prepare(root, split["test"], out / "test", label_map, tasks)}
    if split["dev"]:
        summary["dev"] = prepare(root, split["dev"], out / "dev", label_map, tasks)
        summary["train"] = prepare(root, split["train"], out / "train", label_map, tasks)
    else:
        both = prepare(
            root, split["train"], out / "train", label_map, tasks, dev_share, out / "dev"
        )
        summary["train"], summary["dev"] = both["main"], both["held_out"]
    return summary


def prepare(
    root,
    sessions: Sequence[int],
    out,
    label_map,
    tasks: Sequence[str] = ("SER",),
    hold_out: float = 0.0,
    hold_out_dir=None,
) -> dict:
    """One data dir of ``sessions`` (and, with ``hold_out``, a second one of a share of
    their dialogs in ``hold_out_dir``)."""
    root = Path(root).absolute()  # data dirs hold absolute paths
    check_tasks("iemocap", tasks, TASKS)
    check_layout("IEMOCAP", root, expected_layout(sessions), HINT)
    label_maps = {"emotion": load_label_map(label_map, "emotion")}
    label_maps["gender"] = load_label_map(label_map, "gender") if "SGC" in tasks else {}
    dirs = {False: DataDir(out, f"IEMOCAP sessions {list(sessions)}")}
    if hold_out > 0:
        if hold_out_dir is None:
            raise ValueError("--hold_out needs --hold_out_dir")
        dirs[True] = DataDir(hold_out_dir, f"IEMOCAP sessions {list(sessions)}, held out")
    held = held_out_dialogs(root, sessions, hold_out)
    for n in sessions:
        dialog_dir = root / f"Session{n}" / "dialog"
        bad: List[BadLine] = []
        texts = read_transcriptions(dialog_dir / "transcriptions", bad)
        for f in dialog_files(dialog_dir / "EmoEvaluation"):
            d = dirs[hold_out > 0 and f.stem in held]
            add_dialog(d, root / f"Session{n}", n, f, texts, tasks, label_maps, bad)
    summary = dirs[False].write()
    if True in dirs:
        summary = {"main": summary, "held_out": dirs[True].write()}
    return summary


def expected_layout(sessions: Sequence[int]) -> List[Tuple[str, str]]:
    expected = []
    for n in sessions:
        expected += [
            (f"Session{n}/dialog/EmoEvaluation/*.txt", f"session {n}'s emotion labels"),
            (f"Session{n}/dialog/transcriptions/*.txt", f"session {n}'s transcripts"),
            (f"Session{n}/sentences/wav/*/*.wav", f"session {n}'s turns"),
        ]
    return expected


def dialog_files(folder: Path) -> List[Path]:
    """The ``<dialog>.txt`` files of ``folder``, sorted, without macOS's ``._`` files."""
    return [f for f in sorted(folder.glob("*.txt")) if not f.name.startswith("._")]


def held_out_dialogs(root: Path, sessions: Sequence[int], hold_out: float) -> Set[str]:
    """A deterministic share ``hold_out`` of the sessions' dialogs (at least one of
    several when ``hold_out`` > 0, whatever the hash)."""
    files = [
        f for n in sessions for f in dialog_files(root / f"Session{n}" / "dialog" / "EmoEvaluation")
    ]
    held = {f.stem for f in files if keep_fraction(f.stem, "hold_out", hold_out)}
    if hold_out > 0 and not held and len(files) > 1:
        held = {min((f.stem for f in files), key=lambda x: zlib.crc32(x.encode()))}
    return held


def read_transcriptions(folder: Path, bad: List[BadLine] | None = None) -> Dict[str, str]:
    """{turn: transcript} of a session's ``transcriptions/<dialog>.txt`` files; a line
    that is not UTF-8 goes to ``bad``."""
    texts = {}
    for f in dialog_files(folder):
        for _, line in text_lines(f, [] if bad is None else bad):
            m = TRANSCRIPT.match(line.strip())
            if m:
                texts[m.group(1)] = m.group(2)
    return texts


def add_dialog(
    d: DataDir,
    session_dir: Path,
    n: int,
    summary: Path,
    texts: Mapping[str, str],
    tasks: Sequence[str],
    label_maps: Mapping[str, Mapping[str, str | None]],
    bad_texts: Sequence[BadLine] = (),
) -> None:
    """The turns of one dialog's ``EmoEvaluation/<dialog>.txt`` (``summary``), a copy per
    task; ``label_maps``: the recipe's ``emotion:`` and ``gender:`` maps; ``bad_texts``:
    the transcription lines that are not UTF-8 (their turns are skipped, and said so)."""
    dialog = summary.stem
    bad: List[BadLine] = []
    for lineno, line in text_lines(summary, bad):
        m = SUMMARY.match(line)
        if not m:
            continue
        turn, code = m.group(3), m.group(4)
        where = f"{summary.name}:{lineno}"
        sex = turn.rsplit("_", 1)[-1][:1].upper()
        if sex not in ("F", "M"):
            d.skip(turn, f"cannot tell the speaker from the turn id ({where})")
            continue
        spk = f"Ses{n:02d}{sex}"
        utt = f"{spk}-{turn}"
        wav = session_dir / "sentences" / "wav" / dialog / f"{turn}.wav"
        if not wav.is_file():
            d.skip(utt, f"{wav} is missing ({where})")
            continue
        if turn not in texts:  # SER's target is the transcript, then the tag
            b = next((b for b in bad_texts if b.key == turn), None)
            why = (
                f"its transcription line {b.where} is {b.reason}"
                if b
                else (f"no transcription of {turn} in {dialog}.txt ({where})")
            )
            d.skip(utt, why)
            continue
        for task in tasks:
            uid = utt if task == "SER" else f"{utt}-{task.lower()}"
            field, value = ("gender", sex) if task == "SGC" else ("emotion", code)
            label, reason = map_label(label_maps[field], value, field, where)
            if reason:
                d.skip(uid, reason)
                continue
            d.add(uid, str(wav), spk, text=texts[turn], task=task, labels={field: label})
    d.skip_lines(bad)


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the IEMOCAP_full_release dir")
    parser.add_argument("--test_sessions", type=int, nargs="+", required=True, metavar="N")
    parser.add_argument("--dev_sessions", type=int, nargs="*", default=[], metavar="N")
    parser.add_argument(
        "--train_sessions", type=int, nargs="*", default=[], metavar="N",
        help="default: every session in neither the test nor the dev sessions",
    )  # fmt: skip
    parser.add_argument(
        "--dev_share", type=float, default=0.0,
        help="without --dev_sessions: the share of the training dialogs held out as dev",
    )  # fmt: skip
    parser.add_argument("--out", required=True, help="the dir to write train/, dev/, test/ in")
    parser.add_argument("--label_map", required=True, help="YAML with an emotion: map")
    parser.add_argument("--tasks", nargs="+", default=["SER"], choices=TASKS)

    def run(a):
        split = session_split(a.test_sessions, a.dev_sessions, a.train_sessions, a.dev_share)
        prepare_split(a.root, split, a.out, a.label_map, a.tasks, a.dev_share)

    run_preparer("iemocap", parser, run, argv)


if __name__ == "__main__":
    main()
