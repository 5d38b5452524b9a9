"""The server's fixtures: a tiny exported model, and ``python -m osum.bin.serve`` started
on 127.0.0.1 (a free port) as a user starts it."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def serving_model(tmp_path_factory) -> Path:
    """An exported tiny model whose hypotheses end after a few tokens (tiny_setup)."""
    from osum.dev.tiny_setup import serving_model as build

    return build(tmp_path_factory.mktemp("serving_model"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(model, *args, env=None, log=None, timeout=180):
    """``python -m osum.bin.serve --model <model> --port <free> *args``; yields its base URL
    (``http://127.0.0.1:<port>``) once ``/health`` answers, stops it after."""
    port = free_port()
    cmd = [sys.executable, "-m", "osum.bin.serve", "--model", str(model), "--port", str(port)]
    cmd += [str(a) for a in args]
    log = open(log or os.devnull, "wb")
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {}))
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited ({proc.returncode}): {' '.join(cmd)}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not answer /health in {timeout} s")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="session")
def audio_files(tmp_path_factory) -> dict:
    """name -> an audio file the server is sent: espeak-ng speech (English, Mandarin), noise
    of 0.3 to 8 s, stereo 44.1 kHz FLAC, and ~40 s (two chunks of the server's 30 s)."""
    import numpy as np
    import soundfile

    from osum.dev.tiny_setup import synth_speech

    d = tmp_path_factory.mktemp("audio")
    files = {"en": d / "en.wav", "zh": d / "zh.wav"}
    synth_speech("turn on the light", files["en"], "en-us")
    synth_speech("今天天气很好", files["zh"], "cmn+f3")
    rng = np.random.default_rng(0)
    for seconds in (0.3, 2, 8):
        files[f"noise{seconds}"] = d / f"noise{seconds}.wav"
        noise = 0.1 * rng.standard_normal(int(seconds * 16000))
        soundfile.write(files[f"noise{seconds}"], noise, 16000, subtype="PCM_16")
    speech, _ = soundfile.read(files["en"], dtype="float32")
    files["stereo"] = d / "stereo.flac"
    soundfile.write(files["stereo"], np.stack([speech, 0.5 * speech], 1), 44100)
    files["long"] = d / "long.wav"
    long = np.concatenate([speech, 0.05 * rng.standard_normal(40 * 16000 - len(speech))])
    soundfile.write(files["long"], long, 16000, subtype="PCM_16")
    return files


@contextmanager
def serving(app, **config):
    """``app`` (an in-process app, its engine built by the test) served by uvicorn in a
    thread on 127.0.0.1; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
