"""The app below a prefix: mounted in another FastAPI app (``app.mount("/osum", ...)``) or
served with uvicorn's ``root_path``, every ``/v1`` path still asks for the key; and an
audio URL naming the server itself is refused, remote URLs allowed or not."""

import base64

import pytest
import requests
from conftest import serving
from fastapi import FastAPI

from osum.decode.engine import Engine
from osum.decode.speech2text import Speech2Text
from osum.serve.app import create_app
from osum.serve.settings import Settings

pytestmark = pytest.mark.slow

KEY = {"Authorization": "Bearer secret"}


@pytest.fixture(scope="module")
def engine(serving_model):
    engine = Engine(Speech2Text(str(serving_model), max_new_tokens=8)).start()
    yield engine
    engine.close()  # a mounted app's lifespan is not run: it is closed here


@pytest.fixture(scope="module")
def mounted(engine):
    """The app, with a key and remote URLs allowed, mounted at /osum of another app."""
    parent = FastAPI()
    parent.mount("/osum", create_app(engine, Settings(api_key="secret", allow_remote_urls=True)))
    with serving(parent) as url:
        yield url


def test_a_mounted_app_asks_for_the_key(mounted):
    for path in ("/osum/v1/models", "/osum/v1/models/osum"):
        res = requests.get(mounted + path, timeout=10)
        assert res.status_code == 401, (path, res.text)
        assert res.json()["error"]["code"] == "invalid_api_key"
        assert requests.get(mounted + path, headers=KEY, timeout=10).status_code == 200
    res = requests.post(mounted + "/osum/v1/chat/completions", json={}, timeout=10)
    assert res.status_code == 401
    assert requests.get(mounted + "/osum/health", timeout=10).status_code == 200


def test_an_app_under_a_root_path_asks_for_the_key(engine):
    """(as behind a proxy that strips the prefix: the path the app sees is /osum/v1/models)"""
    app = create_app(engine, Settings(api_key="secret"))
    # lifespan off: the app would close the engine the other tests share when it stops
    with serving(app, root_path="/osum", lifespan="off") as url:
        assert requests.get(url + "/v1/models", timeout=10).status_code == 401
        assert requests.get(url + "/v1/models", headers=KEY, timeout=10).status_code == 200
        assert requests.get(url + "/health", timeout=10).status_code == 200


def test_the_server_does_not_fetch_from_itself(mounted, audio_files):
    """With remote URLs allowed, a URL of the server's own (or any loopback) is refused."""
    for target in (f"{mounted}/osum/health", f"{mounted}/osum/metrics"):
        parts = [{"type": "audio_url", "audio_url": {"url": target}}]
        body = {"model": "osum", "messages": [{"role": "user", "content": parts}]}
        res = requests.post(
            mounted + "/osum/v1/chat/completions", json=body, headers=KEY, timeout=30
        )
        assert res.status_code == 400, res.text
        assert res.json()["error"]["code"] == "url_not_allowed"
    # the same request with the audio inline is answered
    data = base64.b64encode(audio_files["en"].read_bytes()).decode()
    parts = [{"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}]
    body = {"model": "osum", "task": "ASR", "messages": [{"role": "user", "content": parts}]}
    res = requests.post(mounted + "/osum/v1/chat/completions", json=body, headers=KEY, timeout=60)
    assert res.status_code == 200 and res.json()["osum"]["task"] == "ASR"
