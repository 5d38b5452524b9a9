"""Shared fixtures: tiny random-weight models saved with save_pretrained, synthetic speech."""

import logging
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
logging.getLogger("nltk").setLevel(logging.ERROR)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """{'llm': Qwen2 dir with tokenizer, 'whisper': HF Whisper dir}."""
    from osum.smoke import SENTENCES, make_models

    return make_models(tmp_path_factory.mktemp("tiny_models"), [t for _, t in SENTENCES])


@pytest.fixture(scope="session")
def speech_data(tmp_path_factory):
    """A Kaldi data dir of espeak-ng speech (2 voices x 6 sentences, English and Mandarin)."""
    from osum.smoke import make_data_dir

    out = tmp_path_factory.mktemp("speech") / "data"
    make_data_dir(out)
    return out
