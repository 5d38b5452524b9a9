"""utils/download_pretrained.sh: the one online step, and what it says when it cannot."""

import os

from conftest import run_script


def test_usage_error_on_stray_arguments(tmp_path):
    res = run_script("download_pretrained.sh", "--dir", tmp_path, "whisper", cwd=tmp_path)
    assert res.returncode == 1 and "usage:" in res.stderr


def test_an_unreachable_hub_stops_with_the_model_and_the_place(tmp_path):
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1"}
    res = run_script(
        "download_pretrained.sh", "--dir", tmp_path / "models", "--llm", "", cwd=tmp_path, env=env
    )
    assert res.returncode != 0
    # it went online despite the offline environment, and names what it could not fetch
    assert f"download_pretrained: openai/whisper-medium -> {tmp_path}/models/whisper-medium" in (
        res.stderr
    )
    assert "outgoing traffic has been disabled" not in res.stderr
    assert not list((tmp_path / "models").glob("**/*.safetensors"))
