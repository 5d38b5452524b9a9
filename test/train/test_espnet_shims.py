"""Entry points import quietly and offline: ESPnet's import-time nltk downloads stay off."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["osum.bin.osum_train", "osum.bin.osum_inference"])
def test_no_download_attempt_on_import(module):
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}; import osum.train.task"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "nltk_data" not in proc.stderr, proc.stderr[-2000:]


def test_text_front_ends_load_on_first_use():
    """ESPnet's TTS text front-ends (g2p_en, tacotron_cleaner with inflect) are not
    imported at start-up, and still work when used."""
    code = (
        "import sys, osum.train.task\n"
        "print(sorted(m for m in ('nltk', 'inflect', 'g2p_en.g2p') if m in sys.modules))\n"
        "from espnet2.text.cleaner import TextCleaner\n"
        "print(TextCleaner(['tacotron'])('Dr. Smith paid $25.'))\n"
        "import tacotron_cleaner\n"
        "print('inflect' in sys.modules, len(tacotron_cleaner.symbols) > 10)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[-3:] == [  # after ESPnet's flash_attn notice
        "[]",
        "DOCTOR SMITH PAID TWENTY FIVE DOLLARS.",
        "True True",
    ]
