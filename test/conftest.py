"""Shared fixtures: tiny random-weight models saved with save_pretrained, synthetic audio."""

import logging
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
logging.getLogger("nltk").setLevel(logging.ERROR)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """{'llm': Qwen2 dir with tokenizer, 'whisper': HF Whisper dir}."""
    from osum.tiny import build_qwen2, build_whisper

    root = tmp_path_factory.mktemp("tiny_models")
    return {
        "llm": str(build_qwen2(str(root / "qwen2"))),
        "whisper": str(build_whisper(str(root / "whisper"))),
    }


def synth_speech(text: str, path: Path, voice: str = "en", rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng into a 16 kHz mono wav at ``path``; returns samples."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)], check=True)
    raw.unlink()
    audio, sr = soundfile.read(path, dtype="float32")
    assert sr == rate
    return audio


def write_data_dir(data_dir: Path, utts):
    """utts: list of (utt_id, wav_path, text) -> Kaldi-style wav.scp / text / utt2spk."""
    data_dir.mkdir(parents=True, exist_ok=True)
    utts = sorted(utts)
    with open(data_dir / "wav.scp", "w") as w, open(data_dir / "text", "w") as t, open(
        data_dir / "utt2spk", "w"
    ) as s:
        for uid, wav, text in utts:
            w.write(f"{uid} {wav}\n")
            t.write(f"{uid} {text}\n")
            s.write(f"{uid} {uid.split('-')[0]}\n")
    return data_dir
