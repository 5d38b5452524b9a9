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

import argparse
import re
import sys
import zlib
from pathlib import Path
from typing import Sequence

from osum.corpora.common import (
    DataDir,
    LayoutError,
    check_layout,
    keep_fraction,
    load_label_map,
    map_label,
)

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
    bad = [t for t in tasks if t not in TASKS]
    if bad:
        raise ValueError(f"iemocap: tasks {bad} are not among {list(TASKS)}")
    expected = []
    for n in sessions:
        expected += [
            (f"Session{n}/dialog/EmoEvaluation/*.txt", f"session {n}'s emotion labels"),
            (f"Session{n}/dialog/transcriptions/*.txt", f"session {n}'s transcripts"),
            (f"Session{n}/sentences/wav/*/*.wav", f"session {n}'s turns"),
        ]
    check_layout("IEMOCAP", root, expected, HINT)
    emotions = load_label_map(label_map, "emotion")
    genders = load_label_map(label_map, "gender") if "SGC" in tasks else {}
    dirs = {False: DataDir(out, f"IEMOCAP sessions {list(sessions)}")}
    if hold_out > 0:
        if hold_out_dir is None:
            raise ValueError("iemocap: --hold_out needs --hold_out_dir")
        dirs[True] = DataDir(hold_out_dir, f"IEMOCAP sessions {list(sessions)}, held out")
    files = [
        f
        for n in sessions
        for f in sorted((root / f"Session{n}" / "dialog" / "EmoEvaluation").glob("*.txt"))
        if not f.name.startswith("._")
    ]
    held = {f.stem for f in files if keep_fraction(f.stem, "hold_out", hold_out)}
    if hold_out > 0 and not held and len(files) > 1:  # at least one dialog, whatever the hash
        held = {min((f.stem for f in files), key=lambda x: zlib.crc32(x.encode()))}
    for n in sessions:
        dialog_dir = root / f"Session{n}" / "dialog"
        texts = {}
        for f in sorted((dialog_dir / "transcriptions").glob("*.txt")):
            if f.name.startswith("._"):
                continue
            for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
                m = TRANSCRIPT.match(line.strip())
                if m:
                    texts[m.group(1)] = m.group(2)
        for f in sorted((dialog_dir / "EmoEvaluation").glob("*.txt")):
            if f.name.startswith("._"):
                continue
            dialog = f.stem
            d = dirs[hold_out > 0 and dialog in held]
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
            for lineno, line in enumerate(lines, 1):
                m = SUMMARY.match(line)
                if not m:
                    continue
                turn, code = m.group(3), m.group(4)
                where = f"{f.name}:{lineno}"
                sex = turn.rsplit("_", 1)[-1][:1].upper()
                if sex not in ("F", "M"):
                    d.skip(turn, f"cannot tell the speaker from the turn id ({where})")
                    continue
                spk = f"Ses{n:02d}{sex}"
                utt = f"{spk}-{turn}"
                wav = root / f"Session{n}" / "sentences" / "wav" / dialog / f"{turn}.wav"
                if not wav.is_file():
                    d.skip(utt, f"{wav} is missing ({where})")
                    continue
                if turn not in texts:  # SER's target is the transcript, then the tag
                    d.skip(utt, f"no transcription of {turn} in {dialog}.txt ({where})")
                    continue
                text = texts[turn]
                for task in tasks:
                    uid = utt if task == "SER" else f"{utt}-{task.lower()}"
                    if task == "SGC":
                        label, reason = map_label(genders, sex, "gender", where)
                        if reason:
                            d.skip(uid, reason)
                            continue
                        d.add(uid, str(wav), spk, text=text, task=task, labels={"gender": label})
                        continue
                    label, reason = map_label(emotions, code, "emotion", where)
                    if reason:
                        d.skip(uid, reason)
                        continue
                    d.add(uid, str(wav), spk, text=text, task="SER", labels={"emotion": label})
    summary = dirs[False].write()
    if True in dirs:
        summary = {"main": summary, "held_out": dirs[True].write()}
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="the IEMOCAP_full_release dir")
    parser.add_argument("--sessions", type=int, nargs="+", required=True, choices=range(1, 6))
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--label_map", required=True, help="YAML with an emotion: map")
    parser.add_argument("--tasks", nargs="+", default=["SER"], choices=TASKS)
    parser.add_argument("--hold_out", type=float, default=0.0, help="share of dialogs held out")
    parser.add_argument("--hold_out_dir", default=None, help="data dir of the held-out dialogs")
    args = parser.parse_args(argv)
    try:
        prepare(
            args.root, args.sessions, args.out, args.label_map, args.tasks,
            args.hold_out, args.hold_out_dir,
        )  # fmt: skip
    except (LayoutError, ValueError, OSError) as e:
        sys.exit(f"iemocap: {e}")


if __name__ == "__main__":
    main()
