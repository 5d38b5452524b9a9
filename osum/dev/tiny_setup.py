"""A tiny training setup for the tests and benchmarks: a data dir of a handful of
utterances, tiny models, a config that mirrors the constructors and the osum_train
command line.

Speech comes from the mini corpus' synthesiser (:func:`osum.data.synthetic.speak`:
espeak-ng, then sox); models are random-weight HF Whisper and Qwen2 saved with
``save_pretrained`` (:mod:`osum.dev.tiny_models`).
"""

import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import soundfile
import yaml

from osum.data.synthetic import RATE, speak
from osum.dev.tiny_models import build_qwen2, build_whisper

SENTENCES = [
    ("en", "turn on the light"),
    ("en", "open the door"),
    ("en", "one two three"),
    ("en", "call my mother"),
    ("zh", "打开灯"),
    ("zh", "今天天气很好"),
]
VOICES = {"en": ("en-us", "en-us+f3"), "zh": ("cmn", "cmn+f3")}


def synth_speech(text: str, path: Path, voice: str = "en-us") -> int:
    """Speak ``text`` into a 16 kHz mono 16-bit wav at ``path``; returns its sample count."""
    with tempfile.TemporaryDirectory() as tmp:
        audio = speak(text, voice, tmp)
    soundfile.write(str(path), audio, RATE, subtype="PCM_16")
    return len(audio)


def make_data_dir(out: Path, sentences: Sequence[Tuple[str, str]] = SENTENCES) -> Dict[str, int]:
    """Two speakers (voices) per language saying every sentence: a Kaldi data dir.

    Writes wav.scp, text, utt2spk, spk2utt and speech_shape (samples per utterance).
    Returns utterance -> samples.
    """
    out = Path(out)
    wav_dir = out / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    rows: List[Tuple[str, str, str, str, int]] = []
    for i, (lang, text) in enumerate(sentences):
        for j, voice in enumerate(VOICES[lang]):
            spk = f"{lang}{j}"
            uid = f"{spk}-{i:03d}"
            wav = wav_dir / f"{uid}.wav"
            rows.append((uid, spk, str(wav.resolve()), text, synth_speech(text, wav, voice)))
    rows.sort()
    files = {
        n: open(out / n, "w", encoding="utf-8")
        for n in ("wav.scp", "text", "utt2spk", "speech_shape")
    }
    for uid, spk, wav, text, n in rows:
        files["wav.scp"].write(f"{uid} {wav}\n")
        files["text"].write(f"{uid} {text}\n")
        files["utt2spk"].write(f"{uid} {spk}\n")
        files["speech_shape"].write(f"{uid} {n}\n")
    for f in files.values():
        f.close()
    spk2utt: Dict[str, List[str]] = {}
    for uid, spk, *_ in rows:
        spk2utt.setdefault(spk, []).append(uid)
    (out / "spk2utt").write_text(
        "".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk2utt.items()))
    )
    return {r[0]: r[4] for r in rows}


def make_models(out: Path, corpus: Sequence[str] = ()) -> Dict[str, str]:
    out = Path(out)
    corpus = list(corpus) or None
    return {
        "llm": str(build_qwen2(str(out / "qwen2"), tokenizer_corpus=corpus)),
        "whisper": str(build_whisper(str(out / "whisper"))),
    }


def tiny_config(models: Dict[str, str], **overrides) -> dict:
    """A training config for the tiny models, mirroring the constructors' arguments."""
    config = dict(
        frontend="whisper",
        frontend_conf=dict(n_mels=80),
        encoder="whisper",
        encoder_conf=dict(init=models["whisper"]),
        speech_adapter="osum",
        speech_adapter_conf=dict(
            attention_heads=4, linear_units=128, num_blocks=1, dropout_rate=0.0
        ),
        llm_conf=dict(
            path=models["llm"], lora=True, dtype="float32", lora_conf=dict(lora_dropout=0.0)
        ),
        model_conf=dict(trainable=["adapter", "lora"]),
        preprocessor_conf=dict(prompt="Transcribe the speech."),
        optim="adamw",
        optim_conf=dict(lr=0.001, betas=[0.9, 0.99], eps=1.0e-6, weight_decay=0.01),
        batch_type="sorted",
        batch_size=4,
        max_epoch=2,
        num_workers=0,
        best_model_criterion=[["valid", "loss", "min"], ["valid", "acc", "max"]],
        keep_nbest_models=2,
        seed=0,
    )
    config.update(overrides)
    return config


def write_config(path: Path, config: dict) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, allow_unicode=True, sort_keys=False)
    return Path(path)


def train_command(config: Path, data: Path, exp: Path, *extra: str) -> List[str]:
    """The osum_train command line for a data dir used for both training and validation."""
    data = Path(data)
    return [
        "python",
        "-m",
        "osum.bin.osum_train",
        "--config",
        str(config),
        "--output_dir",
        str(exp),
        "--ngpu",
        "0",
        "--train_data_path_and_name_and_type",
        f"{data}/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type",
        f"{data}/text,text,text",
        "--valid_data_path_and_name_and_type",
        f"{data}/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type",
        f"{data}/text,text,text",
        "--train_shape_file",
        f"{data}/speech_shape",
        "--valid_shape_file",
        f"{data}/speech_shape",
        *extra,
    ]
