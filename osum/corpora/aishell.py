"""AISHELL-1 (openslr 33): ASR (CER) and SGC (speaker sex from resource_aishell).

    python -m osum.corpora.aishell --root /data/aishell --split test --out data/test \\
        --tasks ASR SGC --label_map conf/labels.yaml   # its gender: map of the sex codes (SGC)

Layout: ``<root>/data_aishell/wav/{train,dev,test}/S0002/BAC009S0002W0122.wav`` (after
extracting the per-speaker ``.tar.gz`` files the download ships in ``wav/``),
``<root>/data_aishell/transcript/aishell_transcript_v0.8.txt`` (``<utt> <words>``) and
``<root>/resource_aishell/speaker.info`` (``0002 F``). About 300 wavs have no transcript:
they are skipped and listed, as Kaldi's and ESPnet's recipes drop them. A transcript or
speaker.info line that is not UTF-8 (a GBK byte, say) costs its utterance or speaker
alone: it is named with its file and line on stderr and in ``skipped``.
"""

import sys
from pathlib import Path
from typing import Dict, List, Sequence

from osum.corpora.common import (
    BadLine,
    DataDir,
    LayoutError,
    check_layout,
    check_tasks,
    load_label_map,
    map_label,
    parse_fractions,
    preparer_parser,
    run_preparer,
    task_copies,
    text_lines,
)

SPLITS = ("train", "dev", "test")
TASKS = ("ASR", "SGC")
TRANSCRIPT = "data_aishell/transcript/aishell_transcript_v0.8.txt"
HINT = "Set AISHELL in db.sh to the dir holding data_aishell/ (local/download.sh fetches it)."


def read_speaker_info(path: Path, bad: List[BadLine] | None = None) -> Dict[str, str]:
    """{S0002: sex code as written (F, M)} from ``0002 F`` lines (with or without the S);
    a line that is not UTF-8 goes to ``bad``."""
    out = {}
    for lineno, line in text_lines(path, [] if bad is None else bad):
        parts = line.split()
        if len(parts) < 2:
            if line.strip():
                print(f"aishell: {path}:{lineno}: not '<id> <sex>', ignored", file=sys.stderr)
            continue
        out[speaker_id(parts[0])] = parts[1]
    return out


def speaker_id(word: str) -> str:
    """speaker.info's ``0002`` (or ``S0002``) as the wav dirs name it: ``S0002``."""
    return (word if word.upper().startswith("S") else f"S{word}").upper()


def read_transcript(path: Path, bad: List[BadLine]) -> Dict[str, str]:
    """{utterance: characters} of ``<utt> <words>`` lines (words -> characters, as ESPnet's
    recipe); a line that is not UTF-8 goes to ``bad``."""
    texts = {}
    for _, line in text_lines(path, bad):
        parts = line.split(maxsplit=1)
        if len(parts) == 2:
            texts[parts[0]] = "".join(parts[1].split())
    return texts


def prepare(
    root, split: str, out, tasks: Sequence[str] = ("ASR",), fractions=None, label_map=None
) -> dict:
    """``label_map``: a YAML file whose ``gender:`` maps speaker.info's sex codes onto
    OSUM's genders (needed for SGC)."""
    root = Path(root).absolute()  # data dirs hold absolute paths
    check_tasks("aishell", tasks, TASKS)
    wav_dir = root / "data_aishell" / "wav"
    if not (wav_dir / split).is_dir() and any(wav_dir.glob("*.tar.gz")):
        raise LayoutError(
            f"AISHELL-1: {wav_dir} has the per-speaker archives but no {split}/ dir: extract "
            f"them first (cd {wav_dir} && for f in *.tar.gz; do tar -xzf $f; done)"
        )
    expected = [(TRANSCRIPT, "transcripts"), (f"data_aishell/wav/{split}/*/*.wav", f"{split} wavs")]
    if "SGC" in tasks:
        expected.append(("resource_aishell/speaker.info", "speaker sex (resource_aishell.tgz)"))
    check_layout("AISHELL-1", root, expected, HINT)
    bad_text: List[BadLine] = []
    texts = read_transcript(root / TRANSCRIPT, bad_text)
    bad_texts = {b.key: b for b in bad_text}  # the utterance of each, by its id
    sexes, gender_map, bad_info = {}, {}, {}
    if "SGC" in tasks:
        if not label_map:
            raise ValueError("SGC needs --label_map: a YAML with a gender: map of sex codes")
        gender_map = load_label_map(label_map, "gender")
        bad: List[BadLine] = []
        sexes = read_speaker_info(root / "resource_aishell" / "speaker.info", bad)
        bad_info = {speaker_id(b.key): b for b in bad if b.key}
    d = DataDir(out, f"AISHELL-1 {split}")
    for wav in sorted((wav_dir / split).glob("*/*.wav")):
        # ids as the release's; the speaker is the id's prefix (BAC009S0002), which keeps
        # Kaldi's order in a mix with other corpora
        utt, spk_dir = wav.stem, wav.parent.name
        spk = utt[: utt.index(spk_dir) + len(spk_dir)] if spk_dir in utt else spk_dir
        if utt in bad_texts:
            b = bad_texts[utt]
            d.skip(utt, f"its transcript line {b.where} is {b.reason}")
            continue
        if utt not in texts:
            d.skip(utt, f"no transcript in {TRANSCRIPT}")
            continue
        for task, uid in task_copies(utt, tasks, fractions):
            if task == "SGC":
                if spk_dir.upper() in bad_info:
                    b = bad_info[spk_dir.upper()]
                    d.skip(uid, f"speaker {spk_dir}'s line {b.where} is {b.reason}")
                    continue
                if spk_dir.upper() not in sexes:
                    d.skip(uid, f"speaker {spk_dir} is not in speaker.info")
                    continue
                where = f"speaker.info, speaker {spk_dir}"
                label, reason = map_label(gender_map, sexes[spk_dir.upper()], "gender", where)
                if reason:
                    d.skip(uid, reason)
                    continue
                d.add(uid, str(wav), spk, text=texts[utt], task=task, labels={"gender": label})
            else:
                d.add(uid, str(wav), spk, text=texts[utt])
    return d.write()


def main(argv=None):
    parser = preparer_parser(__doc__)
    parser.add_argument("--root", required=True, help="the dir holding data_aishell/")
    parser.add_argument("--split", required=True, choices=SPLITS)
    parser.add_argument("--out", required=True, help="data dir to write")
    parser.add_argument("--tasks", nargs="+", default=["ASR"], choices=TASKS)
    parser.add_argument("--fraction", action="append", default=[], metavar="TASK=F")
    parser.add_argument("--label_map", default=None, help="YAML with a gender: map (for SGC)")

    def run(args):
        fractions = parse_fractions(args.fraction, args.tasks)
        prepare(args.root, args.split, args.out, args.tasks, fractions, args.label_map)

    run_preparer("aishell", parser, run, argv)


if __name__ == "__main__":
    main()
