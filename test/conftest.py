"""Shared fixtures: tiny random-weight models saved with save_pretrained, synthetic speech."""

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import ASSIGN, LABELS, write

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
logging.getLogger("nltk").setLevel(logging.ERROR)

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """{'llm': Qwen2 dir with tokenizer, 'whisper': HF Whisper dir}."""
    from osum.dev.tiny_setup import SENTENCES, make_models

    return make_models(tmp_path_factory.mktemp("tiny_models"), [t for _, t in SENTENCES])


@pytest.fixture(scope="session")
def speech_data(tmp_path_factory):
    """A Kaldi data dir of espeak-ng speech (2 voices x 6 sentences, English and Mandarin)."""
    from osum.dev.tiny_setup import make_data_dir

    out = tmp_path_factory.mktemp("speech") / "data"
    make_data_dir(out)
    return out


@pytest.fixture
def task_dir(speech_data, tmp_path):
    """The espeak-ng data dir with every task: utt2task, label files, ctm, utt2answer."""
    d = tmp_path / "data"
    shutil.copytree(speech_data, d)
    write(d / "utt2task", ASSIGN)
    for name, rows in LABELS.items():
        write(d / name, rows)
    (d / "ctm").write_text(
        "en0-001 0.10 0.20 open\nen0-001 0.32 0.18 the\nen0-001 0.52 0.30 door\n"
        "zh1-005 0.05 0.40 今天\nzh1-005 0.50 0.60 天气很好\n",
        encoding="utf-8",
    )
    write(d / "utt2answer", {"en1-003": "you should call her"})
    return d


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """The mini recipe's synthetic corpus, small: 64 training and 32 test utterances."""
    from osum.data import synthetic

    d = tmp_path_factory.mktemp("mini")
    counts = synthetic.make_corpus(str(d), {"train": 8, "test": 4}, seed=3, nj=2)
    assert counts == {"train": 64, "test": 32}
    return d


@pytest.fixture
def small_disk(tmp_path):
    """A 64 KiB tmpfs (mounting needs root): what does not fit fails with ENOSPC."""
    disk = tmp_path / "small"
    disk.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({res.stderr.strip()})")
    try:
        yield disk
    finally:
        # lazy: a writer that failed may still hold its file open (torch.save)
        subprocess.run(["umount", "--lazy", str(disk)], check=False)
