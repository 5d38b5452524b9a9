"""A client that goes away stops the decoding of its request: unstreamed (the server
notices while it waits) or streamed (the stream is closed)."""

import base64
import io
import json
import socket
import time

import numpy as np
import pytest
import soundfile
from conftest import serving

from osum.decode.engine import Engine
from osum.decode.speech2text import Speech2Text
from osum.serve.app import create_app
from osum.serve.settings import Settings

pytestmark = pytest.mark.slow


def chat_request(port: int, stream: bool) -> bytes:
    audio = io.BytesIO()
    rng = np.random.default_rng(0)
    soundfile.write(audio, 0.1 * rng.standard_normal(16000), 16000, format="WAV")
    part = {"data": base64.b64encode(audio.getvalue()).decode(), "format": "wav"}
    body = json.dumps(
        {
            "model": "osum",
            "task": "ASR",
            "stream": stream,
            "messages": [
                {"role": "user", "content": [{"type": "input_audio", "input_audio": part}]}
            ],
        }
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def wait_for(test, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not test():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.parametrize("stream", [False, True], ids=["unstreamed", "streamed"])
def test_a_client_that_goes_away_stops_its_decoding(serving_model, stream):
    s2t = Speech2Text(str(serving_model), max_new_tokens=100000)
    s2t.model.llm.get_base_model().lm_head.weight.data[s2t.pre.end_id] = 0.0  # never ends
    engine = Engine(s2t).start()
    app = create_app(engine, Settings())
    steps, observe = [], engine.on_step  # the app's metrics observe the steps too
    engine.on_step = lambda n: (steps.append(n), observe(n))
    try:
        with serving(app, lifespan="off") as url:
            port = int(url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(chat_request(port, stream))
                wait_for(lambda: len(steps) > 20, 60, "decoding did not start")
            # the client is gone: the request leaves the batch
            wait_for(lambda: engine.running == 0, 10, "the request is still decoding")
            time.sleep(0.3)  # the step under way when it left
            n = len(steps)
            time.sleep(0.5)
            assert len(steps) == n  # nothing decodes any more
            assert len(steps) < 100000
    finally:
        engine.close()
