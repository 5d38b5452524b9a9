"""IEMOCAP: SER (and SGC with ``--tasks``), leave-one-session-out.

    python -m osum.corpora.iemocap --root /data/IEMOCAP_full_release --sessions 5 \\
        --out data/test --label_map conf/labels.yaml

Layout: ``<root>/Session<N>/dialog/EmoEvaluation/<dialog>.txt`` (one summary line per
turn: ``[6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]``),
``<root>/Session<N>/dialog/transcriptions/<dialog>.txt``
(``Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.``) and
``<root>/Session<N>/sentences/wav/<dialog>/<turn>.wav``. The speaker's sex is the first
letter of the turn's last field (``F000``); speakers are ``Ses01F``, ``Ses01M``, ...

The emotion codes (neu, hap, exc, sad, ang, fru, sur, fea, dis, oth, xxx) go through the
recipe's label map; the usual four-class setup maps exc with hap and leaves out the rest.
``--hold_out F --hold_out_dir DIR`` writes a deterministic share F of the dialogs to a
second dir (a dev set from the training sessions). Only the top level of
``EmoEvaluation/`` is read (its ``Categorical/``, ``Attribute/`` and ``Self-evaluation/``
hold the single annotators' files), and macOS ``._`` files are ignored.
"""

import re
import zlib
from pathlib import Path
from typing import Dict, List, Mapping, Sequence, Set, Tuple

from osum.corpora.common import (
    DataDir,
    check_layout,
    check_tasks,
    load_label_map,
    map_label,
    preparer_parser,
    run_preparer,
)
from osum.data.mix import keep_fraction

TASKS = ("SER", "SGC")
HINT = "Set IEMOCAP in db.sh to the IEMOCAP_full_release dir (holding Session1/ ... Session5/)."
SUMMARY = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)")
TRANSCRIPT = re.compile(r"^(\S+)\s+\[\s*[\d.]+\s*-\s*[\d.]+\s*\]:\s*(.*)$")


def prepare(
    root,
    sessions: Sequence[int],
    out,
    label_map,
    tasks: Sequence[str] = ("SER",),
    hold_out: float = 0.0,
    hold_out_dir=None,
) -> dict:
    root = Path(root).absolute()  # data dirs hold absolute paths
    check_tasks("iemocap", tasks, TASKS)
    check_layout("IEMOCAP", root, expected_layout(sessions), HINT)
    label_maps = {"emotion": load_label_map(label_map, "emotion")}
    label_maps["gender"] = load_label_map(label_map, "gender") if "SGC" in tasks else {}
    dirs = {False: DataDir(out, f"IEMOCAP sessions {list(sessions)}")}
    if hold_out > 0:
        if hold_out_dir is None:
            raise ValueError("iemocap: --hold_out needs --hold_out_dir")
        dirs[True] = DataDir(hold_out_dir, f"IEMOCAP sessions {list(sessions)}, held out")
    held = held_out_dialogs(root, sessions, hold_out)
    for n in sessions:
        dialog_dir = root / f"Session{n}" / "dialog"
        texts = read_transcriptions(dialog_dir / "transcriptions")
        for f in dialog_files(dialog_dir / "EmoEvaluation"):
            d = dirs[hold_out > 0 and f.stem in held]
            add_dialog(d, root / f"Session{n}", n, f, texts, tasks, label_maps)
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


def read_transcriptions(folder: Path) -> Dict[str, str]:
    """{turn: transcript} of a session's ``transcriptions/<dialog>.txt`` files."""
    texts = {}
    for f in dialog_files(folder):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
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
) -> None:
    """The turns of one dialog's ``EmoEvaluation/<dialog>.txt`` (``summary``), a copy per
    task; ``label_maps``: the recipe's ``emotion:`` and ``gender:`` maps."""
    dialog = summary.stem
    lines = summary.read_text(encoding="utf-8", errors="replace").splitlines()
    for lineno, line in enumerate(lines, 1):
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
            d.skip(utt, f"no transcription of {turn} in {dialog}.txt ({where})")
            continue
        for task in tasks:
            uid = utt if task == "SER" else f"{utt}-{task.lower()}"
            field, value = ("gender", sex) if task == "SGC" else ("emotion", code)
            label, reason = map_label(label_maps[field], value, field, where)
            if reason:
                d.skip(uid, reason)
                continue
            d.add(uid, str(wav), spk, text=texts[turn], task=task, labels={field: label})


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the IEMOCAP_full_release dir")
    parser.add_argument("--sessions", type=int, nargs="+", required=True, choices=range(1, 6))
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--label_map", required=True, help="YAML with an emotion: map")
    parser.add_argument("--tasks", nargs="+", default=["SER"], choices=TASKS)
    parser.add_argument("--hold_out", type=float, default=0.0, help="share of dialogs held out")
    parser.add_argument("--hold_out_dir", default=None, help="data dir of the held-out dialogs")

    def run(a):
        prepare(a.root, a.sessions, a.out, a.label_map, a.tasks, a.hold_out, a.hold_out_dir)

    run_preparer("iemocap", parser, run, argv)


if __name__ == "__main__":
    main()
