"""Entry points import quietly and offline: ESPnet's import-time nltk downloads stay off."""

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["osum.bin.osum_train", "osum.bin.osum_inference"])
def test_no_download_attempt_on_import(module):
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}; import osum.task"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "nltk_data" not in proc.stderr, proc.stderr[-2000:]
