"""The mini_osum corpus: synthetic bilingual speech for all eight OSUM tasks.

Speech is made with espeak-ng (English and Mandarin, a male and a female voice each) and
shaped with sox; every label is exact by construction and everything is deterministic
under the seed.

| task | what is synthesised | label |
|------|---------------------|-------|
| ASR  | a sentence | its transcript |
| SRWT | the sentence's units (English words, Mandarin characters) spoken one by one and joined with random pauses | the exact start and end of every unit |
| VED  | the sentence with a synthetic vocal event (sox ``synth``) before or after it | the event (:data:`EVENTS`) |
| SER  | the sentence with an emotion's prosody and voice quality (:data:`EMOTIONS`) | the emotion |
| SSR  | the sentence with a speaking style's rate, pitch and room (:data:`STYLES`) | the style |
| SGC  | the sentence in the male or the female voice | the gender |
| SAP  | the sentence with an age's voice transform (:data:`AGES`) | the age |
| STTC | a question with a determinable answer (sums, successors) | its transcript and answer |

Every label task answers the transcript too (ASR+X). Sentences come from a small
vocabulary (commands, rooms, digit strings); train, dev and test use disjoint sentences.
STTC questions are new sentences in each split (a fact comes with other carrier phrases
in each: :data:`CARRIER_SPLITS`), but the facts they ask are all met in training: the
mini model knows nothing it was not taught.
"""

import os
import random
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import soundfile
import sox

from osum.asrx.text_norm import units
from osum.files import atomic_path, write_text
from osum.progress import progress

RATE = 16000

EN_VERBS = ["turn on", "turn off", "open", "close", "clean", "check"]
EN_OBJECTS = ["the light", "the door", "the window", "the radio", "the fan", "the oven"]
EN_ROOMS = ["in the kitchen", "in the hall", "in the garden", "upstairs", "downstairs", "now"]
EN_DIGITS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ZH_VERBS = ["打开", "关闭", "清洁", "检查"]
ZH_OBJECTS = ["灯", "门", "窗户", "收音机", "风扇", "烤箱"]
ZH_ROOMS = ["厨房的", "客厅的", "花园的", "楼上的", "楼下的"]
ZH_DIGITS = ["一", "二", "三", "四", "五", "六", "七", "八", "九"]

VOICES = {  # language -> ((espeak-ng voice, gender), ...)
    "en": (("en-us", "male"), ("en-us+f3", "female")),
    "zh": (("cmn", "male"), ("cmn+f3", "female")),
}

# A rendering: espeak-ng options (speed in words per minute, pitch 0-99, amplitude, gap
# between words in 10 ms units) and sox effects applied to the result: (sox.Transformer
# method, its arguments) in order.
EMOTIONS = {
    "neutral": dict(),
    "happy": dict(speed=195, pitch=80),
    "sad": dict(
        speed=115, pitch=20, effects=[("lowpass", dict(frequency=1800)), ("gain", dict(gain_db=-8))]
    ),
    "anger": dict(
        speed=205,
        pitch=40,
        amplitude=160,
        effects=[("overdrive", dict(gain_db=12)), ("gain", dict(gain_db=-2))],
    ),
    "surprise": dict(speed=150, pitch=99, effects=[("pitch", dict(n_semitones=3))]),
    "fear": dict(speed=180, pitch=65, effects=[("tremolo", dict(speed=7, depth=70))]),
    "disgust": dict(
        speed=140, pitch=30, effects=[("sinc", dict(filter_type="pass", cutoff_freq=[400, 1800]))]
    ),
}
STYLES = {
    "news/science": dict(speed=205, pitch=50, effects=[("highpass", dict(frequency=200))]),
    "horror story": dict(
        speed=110,
        pitch=15,
        effects=[("reverb", dict(reverberance=80, high_freq_damping=50, room_scale=100))],
    ),
    "fairy tale": dict(speed=135, pitch=85, effects=[("tremolo", dict(speed=2, depth=50))]),
    "customer service": dict(
        speed=175, pitch=65, effects=[("sinc", dict(filter_type="pass", cutoff_freq=[300, 3400]))]
    ),
    "poetry/prose": dict(
        speed=120,
        pitch=55,
        gap=12,
        effects=[("echo", dict(gain_in=0.8, gain_out=0.7, delays=[60], decays=[0.35]))],
    ),
    "audiobook": dict(speed=150, pitch=45, effects=[("reverb", dict(reverberance=30))]),
    "everyday speech": dict(),
}
AGES = {
    "child": dict(pitch=70, effects=[("speed", dict(factor=1.3)), ("tempo", dict(factor=0.8))]),
    "adult": dict(),
    "old": dict(
        speed=125,
        pitch=30,
        effects=[("tremolo", dict(speed=5, depth=45)), ("lowpass", dict(frequency=3000))],
    ),
}
EVENTS = ["laugh", "cough", "cry", "screaming", "sigh", "throat clearing", "sneeze"]
LABELS = {"emotion": EMOTIONS, "style": STYLES, "age": AGES}
TASK_FIELD = {"SER": "emotion", "SSR": "style", "SAP": "age", "VED": "event", "SGC": "gender"}
TASKS = ["ASR", "SRWT", "VED", "SER", "SSR", "SGC", "SAP", "STTC"]
SPLITS = {"train": 0.7, "dev": 0.1, "test": 0.2}  # shares of the sentences

# STTC: (question, answer) facts, asked with several carrier phrases
EN_CARRIERS = ["", "tell me", "please tell me", "quick question", "hey", "now tell me"]
EN_CARRIERS += ["okay", "so tell me", "listen", "well"]
ZH_CARRIERS = ["", "请问", "告诉我", "你好", "那么", "请告诉我", "好的", "问一下", "我想知道", "喂"]
# the split of a fact's carriers (shuffled per fact): six in training, two in dev and
# test. With three of six in training the model learnt which facts came with a carrier.
CARRIER_SPLITS = ["train", "dev", "test", "train", "train", "test", "train", "dev"] + ["train"] * 2


def sentences(rng: random.Random) -> List[Tuple[str, str]]:
    """Every distinct (language, sentence) of the vocabulary, shuffled."""
    out = [("en", f"{v} {o} {r}") for v in EN_VERBS for o in EN_OBJECTS for r in EN_ROOMS]
    out += [("en", f"{a} {b} {c}") for a in EN_DIGITS for b in EN_DIGITS for c in EN_DIGITS[:3]]
    out += [("zh", f"{v}{r}{o}") for v in ZH_VERBS for o in ZH_OBJECTS for r in ZH_ROOMS]
    out += [("zh", f"{a}{b}{c}") for a in ZH_DIGITS for b in ZH_DIGITS for c in ZH_DIGITS[:3]]
    rng.shuffle(out)
    return out


def facts() -> List[Tuple[str, str, str]]:
    """STTC facts: (language, question, answer)."""
    out = []
    for i in range(4):
        for j in range(4):
            out.append(("en", f"what is {EN_DIGITS[i]} plus {EN_DIGITS[j]}", EN_DIGITS[i + j + 1]))
            out.append(("zh", f"{ZH_DIGITS[i]}加{ZH_DIGITS[j]}等于几", ZH_DIGITS[i + j + 1]))
    for i in range(8):
        out.append(("en", f"what comes after {EN_DIGITS[i]}", EN_DIGITS[i + 1]))
        out.append(("zh", f"{ZH_DIGITS[i]}后面是几", ZH_DIGITS[i + 1]))
    return out


def questions(rng: random.Random) -> Dict[str, List[Tuple[str, str, str]]]:
    """STTC sentences per split: every fact in train, each carrier phrase in one split only."""
    out: Dict[str, List[Tuple[str, str, str]]] = {s: [] for s in SPLITS}
    for lang, q, a in facts():
        carriers = list(EN_CARRIERS if lang == "en" else ZH_CARRIERS)
        rng.shuffle(carriers)
        sep = " " if lang == "en" else ""
        # train, dev, test, then train again: every fact is taught; splits never share
        for k, c in enumerate(carriers):
            split = CARRIER_SPLITS[k]
            out[split].append((lang, f"{c}{sep}{q}".strip(), a))
    return out


def corpus_text(seed: int = 0) -> List[str]:
    """Text the tokenizer of the tiny LLM is trained on: the training split's sentences,
    questions and answers, the task prompts and times.

    The labels come only from the prompts that list them (`` happy``, with a space), so
    a tag's label (``<happy>``, no space) is split into pieces. A tokenizer that has
    every label and every SRWT unit as one token was tried (the recipe README's table):
    no better, and its other random initialisation lost gender; the default keeps this
    one, whose runs the recipe's RESULTS.md reports."""
    from osum.asrx.registry import TASKS as REGISTRY

    pools, qpool = split_pools(seed)
    text = [t for lang in ("en", "zh") for t in pools["train"][lang]]
    text += [f"{q} {a}" for _, q, a in qpool["train"]]
    for task in REGISTRY.values():
        text += [p for ps in task.prompts.values() for p in ps]
    text += [f"<{t / 100:.2f}>" for t in range(0, 1000, 7)]
    return text


# ------------------------------------------------------------------ audio
def _read(path: str) -> np.ndarray:
    audio, rate = soundfile.read(path, dtype="float32")
    assert rate == RATE, (path, rate)
    return audio


def transformer(effects: Sequence[Tuple[str, dict]] = ()) -> "sox.Transformer":
    """A sox.Transformer to 16 kHz mono 16-bit with ``effects`` ((method, arguments) in
    order). Gains are plain gains (no normalisation), and there is no dither: the output
    depends on nothing but the input."""
    tfm = sox.Transformer()
    tfm.set_globals(dither=False, verbosity=1)
    tfm.set_output_format(rate=RATE, channels=1, bits=16)
    for name, kwargs in effects:
        if name == "gain":
            kwargs = dict(normalize=False, **kwargs)
        getattr(tfm, name)(**kwargs)
    return tfm


def speak(
    text: str,
    voice: str,
    tmp: str,
    speed=None,
    pitch=None,
    amplitude=None,
    gap=None,
    effects: Sequence[Tuple[str, dict]] = (),
) -> np.ndarray:
    """espeak-ng ``text`` in ``voice``, at 16 kHz with the sox ``effects`` ((sox.Transformer
    method, arguments) in order)."""
    raw = os.path.join(tmp, "espeak.wav")
    cmd = ["espeak-ng", "-v", voice, "-w", raw]
    for opt, value in (("-s", speed), ("-p", pitch), ("-a", amplitude), ("-g", gap)):
        if value is not None:
            cmd += [opt, str(value)]
    proc = subprocess.run(cmd + [text], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng -v {voice} {text!r} failed: {proc.stderr.strip()[-500:]}")
    samples = transformer(effects).build_array(input_filepath=raw)
    return samples.astype("float32") / 32768.0


def trim(audio: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    """Cut leading and trailing silence (samples under ``threshold`` of the peak)."""
    loud = np.flatnonzero(np.abs(audio) > threshold * max(np.abs(audio).max(), 1e-6))
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def event_sound(event: str, rng: random.Random, tmp: str) -> np.ndarray:
    """A synthetic vocal event: one or more sox ``synth`` pieces (:data:`EVENT_SOUNDS`)
    whose durations and frequencies vary with ``rng``; peak 0.5."""
    if event not in EVENT_SOUNDS:
        raise ValueError(f"unknown event {event!r}; known: {EVENTS}")
    out, pieces = os.path.join(tmp, "event.wav"), []
    for gain, duration, synth in EVENT_SOUNDS[event](rng.uniform):
        if synth is None:  # a pause
            pieces.append(silence(duration))
            continue
        # pysox wraps effects, not sox's generators: the null input and synth go to
        # sox itself, repeatable (-R) so that the noises are the same on every run
        args = ["-R", "-n", "-r", str(RATE), "-c", "1", "-b", "16", out]
        status, _, err = sox.core.sox(args + ["synth", f"{duration:.3f}", *synth.split()])
        if status != 0:
            raise RuntimeError(f"sox synth {synth!r} failed: {err.strip()[-500:]}")
        pieces.append(gain * _read(out))
    x = np.concatenate(pieces)
    return (0.5 * x / max(np.abs(x).max(), 1e-6)).astype("float32")


# event -> f(uniform) -> [(gain, seconds, sox synth arguments or None for a pause)]
EVENT_SOUNDS = {
    # voiced bursts, "ha ha ha"
    "laugh": lambda u: [
        (1, u(0.6, 0.9), f"sawtooth {u(250, 330):.0f} tremolo {u(5, 7):.1f} 100 lowpass 2500")
    ],
    # two short noise bursts
    "cough": lambda u: [
        (1, u(0.15, 0.22), "brownnoise highpass 300 fade q 0.01 -0 0.12"),
        (1, u(0.08, 0.15), None),
        (1, u(0.15, 0.22), "brownnoise highpass 300 fade q 0.01 -0 0.12"),
    ],
    # a falling wail with slow sobs
    "cry": lambda u: [
        (1, u(0.9, 1.3), f"sawtooth {u(500, 600):.0f}:{u(350, 420):.0f} tremolo 3 70 lowpass 3000")
    ],
    # loud, high, distorted
    "screaming": lambda u: [
        (
            1,
            u(0.5, 0.8),
            f"sawtooth {u(1000, 1150):.0f}:{u(1200, 1350):.0f} overdrive 15 tremolo 9 20",
        )
    ],
    # a breathy exhale
    "sigh": lambda u: [(1, u(0.8, 1.1), "pinknoise lowpass 1200 fade h 0.3 -0 0.5 gain -6")],
    # a low rumble with rapid pulses
    "throat clearing": lambda u: [(1, u(0.35, 0.5), "brownnoise lowpass 500 tremolo 30 90")],
    # a rising "ah", then a hiss
    "sneeze": lambda u: [
        (0.6, u(0.25, 0.35), f"sine {u(300, 380):.0f}:{u(650, 750):.0f}"),
        (1, u(0.15, 0.22), "whitenoise highpass 3000 fade q 0 -0 0.15"),
    ],
}


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * RATE)), dtype="float32")


# ------------------------------------------------------------------ utterances
def render(row: dict, tmp: str) -> Tuple[np.ndarray, List[Tuple[float, float, str]]]:
    """Audio of one planned utterance, and its unit times for SRWT."""
    rng = random.Random(row["seed"])
    voice, task, text = row["voice"], row["task"], row["text"]
    if task == "SRWT":
        pieces, times = [silence(rng.uniform(0.1, 0.3))], []
        t = len(pieces[0]) / RATE
        for k, unit in enumerate(units(text)):
            if k:
                pieces.append(silence(rng.uniform(0.05, 0.3)))
                t += len(pieces[-1]) / RATE
            audio = trim(speak(unit, voice, tmp))
            pieces.append(audio)
            times.append((round(t, 4), round(t + len(audio) / RATE, 4), unit))
            t += len(audio) / RATE
        pieces.append(silence(rng.uniform(0.1, 0.3)))
        return np.concatenate(pieces), times
    field = TASK_FIELD.get(task)
    opts = LABELS[field][row[field]] if field in LABELS else {}
    audio = speak(text, voice, tmp, **opts)
    if task == "VED":
        event = event_sound(row["event"], rng, tmp)
        gap = silence(rng.uniform(0.1, 0.3))
        parts = [event, gap, audio] if rng.random() < 0.5 else [audio, gap, event]
        audio = np.concatenate(parts)
    return audio, []


def _render_job(args):
    rows, wav_dir = args
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows:
            audio, times = render(row, tmp)
            peak = np.abs(audio).max()
            if peak > 0.99:
                audio = audio * (0.99 / peak)
            path = str((Path(wav_dir) / f"{row['utt']}.wav").resolve())
            with atomic_path(path) as part:
                soundfile.write(part, audio, RATE, subtype="PCM_16", format="WAV")
            out[row["utt"]] = (path, times)
    return out


def split_pools(seed: int = 0):
    """Sentences per split and language, and STTC questions per split; disjoint."""
    rng = random.Random(seed)
    pools: Dict[str, Dict[str, List[str]]] = {s: {"en": [], "zh": []} for s in SPLITS}
    by_lang: Dict[str, List[str]] = {"en": [], "zh": []}
    for lang, text in sentences(rng):
        by_lang[lang].append(text)
    for lang, texts in by_lang.items():
        start = 0
        for split, share in SPLITS.items():
            n = round(share * len(texts)) if split != "test" else len(texts) - start
            pools[split][lang] = texts[start : start + n]
            start += n
    return pools, questions(rng)


def plan(sizes: Dict[str, int], seed: int = 0) -> Dict[str, List[dict]]:
    """The utterances of every split: sizes[split] utterances per task."""
    rng = random.Random(seed)
    pools, qpool = split_pools(seed)
    out: Dict[str, List[dict]] = {}
    for split, n in sizes.items():
        rows, cursor = [], {"en": 0, "zh": 0, "q-en": 0, "q-zh": 0}
        # STTC questions are taken in turn, like the sentences, from a shuffled list: a
        # split asks each of its questions before it asks one twice.
        qs = {lang: [q for q in qpool[split] if q[0] == lang] for lang in ("en", "zh")}
        for lang in qs:
            rng.shuffle(qs[lang])
        for task in TASKS:
            for i in range(n):
                lang = "en" if i % 2 == 0 else "zh"
                voice, gender = VOICES[lang][(i // 2) % 2]
                row = dict(task=task, voice=voice, seed=rng.randrange(2**31))
                if task == "STTC":
                    _, row["text"], row["answer"] = qs[lang][cursor["q-" + lang] % len(qs[lang])]
                    cursor["q-" + lang] += 1
                else:
                    pool = pools[split][lang]
                    row["text"] = pool[cursor[lang] % len(pool)]
                    cursor[lang] += 1
                field = TASK_FIELD.get(task)
                if field == "gender":
                    row["gender"] = gender
                elif field == "event":
                    row["event"] = EVENTS[(i // 4) % len(EVENTS)]
                elif field:
                    names = list(LABELS[field])
                    row[field] = names[(i // 4) % len(names)]
                spk = f"{lang}{gender[0]}"
                row["spk"] = spk
                row["utt"] = f"{spk}-{task.lower()}-{split}{i:05d}"
                rows.append(row)
        out[split] = rows
    return out


def make_corpus(out_dir: str, sizes: Dict[str, int], seed: int = 0, nj: int = 1) -> Dict[str, int]:
    """Write data/<split>/ for sizes {"train": n, "dev": n, "test": n} (n utterances per
    task). Returns utterances per split."""
    counts = {}
    for split, rows in plan(sizes, seed).items():
        d = Path(out_dir) / split
        (d / "wav").mkdir(parents=True, exist_ok=True)
        rendered: Dict[str, tuple] = {}
        chunks = [(rows[i : i + 20], str(d / "wav")) for i in range(0, len(rows), 20)]
        bar = progress(len(rows), f"synthesising {split}")
        with ProcessPoolExecutor(max_workers=nj) as pool:
            for part in pool.map(_render_job, chunks):
                rendered.update(part)
                bar.update(len(part))
        bar.close()
        _write_split(d, rows, rendered)
        counts[split] = len(rows)
    return counts


def _write_split(d: Path, rows: List[dict], rendered: Dict[str, tuple]) -> None:
    files: Dict[str, List[str]] = {
        n: []
        for n in ("wav.scp", "text", "utt2spk", "utt2task", "ctm", "utt2answer")
        + tuple(f"utt2{f}" for f in TASK_FIELD.values())
    }
    spk2utt: Dict[str, List[str]] = {}
    for row in sorted(rows, key=lambda r: r["utt"]):
        utt = row["utt"]
        path, times = rendered[utt]
        files["wav.scp"].append(f"{utt} {path}")
        files["text"].append(f"{utt} {row['text']}")
        files["utt2spk"].append(f"{utt} {row['spk']}")
        files["utt2task"].append(f"{utt} {row['task']}")
        field = TASK_FIELD.get(row["task"])
        if field:
            files[f"utt2{field}"].append(f"{utt} {row[field]}")
        if row["task"] == "STTC":
            files["utt2answer"].append(f"{utt} {row['answer']}")
        for start, end, unit in times:
            files["ctm"].append(f"{utt} {start:.4f} {end - start:.4f} {unit}")
        spk2utt.setdefault(row["spk"], []).append(utt)
    for name, lines in files.items():
        if lines or name in ("wav.scp", "text", "utt2spk", "utt2task"):
            write_text(d / name, "".join(f"{x}\n" for x in lines))
    write_text(d / "spk2utt", "".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk2utt.items())))
