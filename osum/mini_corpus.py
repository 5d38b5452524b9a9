"""The mini_osum corpus: synthetic bilingual speech made with espeak-ng and sox.

Sentences come from a small built-in vocabulary (commands, digits, rooms), English and
Mandarin; train, dev and test use disjoint sentences; everything is deterministic under
the seed. Every sentence is spoken by a male and a female voice of its language. Tasks
so far: ASR, and SGC (the voice's gender, exact by construction).
"""

import random
from pathlib import Path
from typing import Dict, List, Tuple

from osum.smoke import synth_speech

EN_VERBS = ["turn on", "turn off", "open", "close", "clean", "check"]
EN_OBJECTS = ["the light", "the door", "the window", "the radio", "the fan", "the oven"]
EN_ROOMS = ["in the kitchen", "in the hall", "in the garden", "upstairs", "downstairs", "now"]
EN_DIGITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ZH_VERBS = ["打开", "关闭", "清洁", "检查"]
ZH_OBJECTS = ["灯", "门", "窗户", "收音机", "风扇", "烤箱"]
ZH_ROOMS = ["厨房的", "客厅的", "花园的", "楼上的", "楼下的"]
ZH_DIGITS = ["一", "二", "三", "四", "五", "六", "七", "八", "九"]

VOICES = {  # language -> ((voice, gender), ...)
    "en": (("en-us", "male"), ("en-us+f3", "female")),
    "zh": (("cmn", "male"), ("cmn+f3", "female")),
}


def sentences(rng: random.Random) -> List[Tuple[str, str]]:
    """Every distinct (language, sentence) of the vocabulary, shuffled."""
    out = [("en", f"{v} {o} {r}") for v in EN_VERBS for o in EN_OBJECTS for r in EN_ROOMS]
    out += [("en", f"{a} {b} {c}") for a in EN_DIGITS for b in EN_DIGITS for c in EN_DIGITS[:3]]
    out += [("zh", f"{v}{r}{o}") for v in ZH_VERBS for o in ZH_OBJECTS for r in ZH_ROOMS]
    out += [("zh", f"{a}{b}{c}") for a in ZH_DIGITS for b in ZH_DIGITS for c in ZH_DIGITS[:3]]
    rng.shuffle(out)
    return out


def make_corpus(out_dir: str, sizes: Dict[str, int], seed: int = 0) -> Dict[str, int]:
    """Write data/<split>/ for splits {"train": n, "dev": n, "test": n} (n sentences each,
    half English, half Mandarin where the vocabulary allows). Returns utterances per split."""
    rng = random.Random(seed)
    pool = {"en": [], "zh": []}
    for lang, text in sentences(rng):
        pool[lang].append(text)
    counts = {}
    for split, n in sizes.items():
        rows = []
        for i in range(n):
            lang = "en" if i % 2 == 0 else "zh"
            text = pool[lang].pop()
            for j, (voice, gender) in enumerate(VOICES[lang]):
                spk = f"{lang}{gender[0]}"
                utt = f"{spk}-{split}{i:04d}"
                task = "SGC" if (i + j) % 2 else "ASR"
                rows.append((utt, spk, voice, gender, text, task))
        counts[split] = _write_split(Path(out_dir) / split, rows)
    return counts


def _write_split(d: Path, rows) -> int:
    wav_dir = d / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    files = {n: [] for n in ("wav.scp", "text", "utt2spk", "utt2task", "utt2gender")}
    spk2utt: Dict[str, List[str]] = {}
    for utt, spk, voice, gender, text, task in sorted(rows):
        wav = (wav_dir / f"{utt}.wav").resolve()
        synth_speech(text, wav, voice)
        files["wav.scp"].append(f"{utt} {wav}")
        files["text"].append(f"{utt} {text}")
        files["utt2spk"].append(f"{utt} {spk}")
        files["utt2task"].append(f"{utt} {task}")
        if task == "SGC":
            files["utt2gender"].append(f"{utt} {gender}")
        spk2utt.setdefault(spk, []).append(utt)
    for name, lines in files.items():
        (d / name).write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
    (d / "spk2utt").write_text(
        "".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk2utt.items())), encoding="utf-8"
    )
    return len(rows)
