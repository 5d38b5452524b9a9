"""The OpenAI-compatible server as its clients see it: the official ``openai`` client and
raw HTTP against ``python -m osum.bin.serve``, a real process on 127.0.0.1."""

import base64
import io
import json
import re
import struct
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openai
import pytest
import requests
import soundfile
from conftest import running_server
from openai import OpenAI

from osum.asrx.registry import TASKS

pytestmark = pytest.mark.slow

ARGS = ["--max_new_tokens", "24"]
KEY = "OSUM_TEST_KEY"


@pytest.fixture(scope="module")
def server(serving_model):
    """The default server, a small body limit (1 MB) and at most 20 s of audio."""
    limits = ["--max_body_mb", "1", "--max_audio_seconds", "20"]
    with running_server(serving_model, *ARGS, *limits) as url:
        yield url


@pytest.fixture(scope="module")
def locked(serving_model):
    """A server with an API key, one row decoded at a time and one request waiting, which
    fetches audio URLs, from 127.0.0.1 too (the test's web server)."""
    args = ["--api_key_env", KEY, "--max_queue", "1", "--max_rows", "1", "--allow_remote_urls"]
    args += ["--allowed_url_networks", "127.0.0.1/32"]
    with running_server(serving_model, *ARGS, *args, env={KEY: "secret"}) as url:
        yield url


def client(url: str, key: str = "x") -> OpenAI:
    return OpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


def audio_message(path, text: str | None = None) -> list:
    data = base64.b64encode(path.read_bytes()).decode()
    parts = [{"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}]
    return [{"role": "user", "content": ([{"type": "text", "text": text}] if text else []) + parts}]


def test_transcriptions(server, audio_files):
    c = client(server)
    with open(audio_files["en"], "rb") as f:
        text = c.audio.transcriptions.create(model="osum", file=f).text
    assert text
    for fmt in ("text", "srt", "vtt"):
        with open(audio_files["en"], "rb") as f:
            out = c.audio.transcriptions.create(model="osum", file=f, response_format=fmt)
        if fmt == "text":
            assert out.strip() == text
        elif fmt == "srt":
            assert re.match(r"1\n00:00:00,000 --> 00:00:0\d,\d{3}\n", out)
        else:
            assert out.startswith("WEBVTT\n\n00:00:00.000 --> ")
    with open(audio_files["en"], "rb") as f:
        verbose = c.audio.transcriptions.create(
            model="osum",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word"],
        )
    # word times: the timestamp task (SRWT), whose transcript may differ from ASR's
    assert verbose.task == "transcribe" and 1.0 < verbose.duration < 3.0
    assert verbose.words is not None and verbose.segments
    assert all(w.start <= w.end for w in verbose.words)
    assert verbose.segments[-1].end <= verbose.duration + 0.1


def test_chat(server, audio_files):
    c = client(server)
    ser = TASKS["SER"].prompts["en"][0]
    r = c.chat.completions.create(model="osum", messages=audio_message(audio_files["en"], ser))
    osum = r.model_extra["osum"]
    assert osum["task"] == "SER" and list(osum["labels"]) == ["emotion"]
    assert r.choices[0].message.content == osum["text"]
    assert r.choices[0].finish_reason == "stop" and r.id.startswith("chatcmpl-")
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # a free question: STTC, the answer after the marker is the content
    r = c.chat.completions.create(
        model="osum", messages=audio_message(audio_files["zh"], "What is said here?")
    )
    assert r.model_extra["osum"]["task"] == "STTC"
    assert r.choices[0].message.content == (r.model_extra["osum"]["answer"] or "")
    # the task named outright; vLLM's audio_url with a data: URL
    url = "data:audio/wav;base64," + base64.b64encode(audio_files["en"].read_bytes()).decode()
    parts = [{"type": "audio_url", "audio_url": {"url": url}}]
    r = c.chat.completions.create(
        model="osum", messages=[{"role": "user", "content": parts}], extra_body={"task": "SGC"}
    )
    assert r.to_dict()["osum"]["task"] == "SGC"
    assert [m.id for m in c.models.list()] == ["osum"]


@pytest.mark.parametrize("text", ["Transcribe the speech.", "<TRANSCRIBE> <GENDER>", None])
def test_a_stream_says_what_the_answer_says(server, audio_files, text):
    c = client(server)
    messages = audio_message(audio_files["en"], text)
    whole = c.chat.completions.create(model="osum", messages=messages)
    chunks = list(c.chat.completions.create(model="osum", messages=messages, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({ch.id for ch in chunks}) == 1 and len({ch.created for ch in chunks}) == 1
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["osum"] == whole.model_extra["osum"]


def error_of(res: requests.Response, status: int) -> dict:
    """The OpenAI-shaped error of a response with ``status``."""
    assert res.status_code == status, (res.status_code, res.text[:300])
    error = res.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and {"param", "code"} <= set(error)
    return error


def test_malformed_requests_get_openai_errors(server, audio_files, tmp_path):
    t, c = server + "/v1/audio/transcriptions", server + "/v1/chat/completions"
    wav = audio_files["en"].read_bytes()
    short = tmp_path / "short.wav"
    short.write_bytes(wav[:44] + b"\0" * 200)  # 100 samples
    data = base64.b64encode(wav).decode()
    audio = {"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}

    form = {"Content-Type": "multipart/form-data; boundary=xx"}
    json_type = {"Content-Type": "application/json"}
    one_hz = bytearray(wav_of(np.zeros(2000)))
    one_hz[24:32] = struct.pack("<II", 1, 2)  # a header saying 1 Hz: 2000 s of samples
    hour = io.BytesIO()  # an hour of silence: 180 KB
    soundfile.write(hour, np.zeros(3600 * 8000, np.int16), 8000, format="FLAC")

    def chat(*parts, **extra):
        return {"model": "osum", "messages": [{"role": "user", "content": list(parts)}], **extra}

    def url(u):
        return chat({"type": "audio_url", "audio_url": {"url": u}})

    cases = [
        (400, dict(url=t, files={"file": ("a.txt", b"not audio at all")})),
        (400, dict(url=t, files={"file": ("a.wav", b"")})),
        (400, dict(url=t, files={"file": ("s.wav", short.read_bytes())})),
        (400, dict(url=t, files={"other": ("a.wav", wav)})),
        (400, dict(url=t, files={"file": ("a.wav", wav)}, data={"response_format": "mp3"})),
        (404, dict(url=t, files={"file": ("a.wav", wav)}, data={"model": "whisper-9"})),
        (415, dict(url=t, json={"file": data})),
        (400, dict(url=t, data=b"--xx\r\nContent-Disposition: form-data; na", headers=form)),
        (400, dict(url=t, files={"file": ("nan.wav", wav_of(np.full(8000, np.nan), "FLOAT"))})),
        (415, dict(url=c, data={"messages": "x"})),
        (400, dict(url=c, data=b"{not json", headers={"Content-Type": "application/json"})),
        (400, dict(url=c, json=[1, 2])),
        (400, dict(url=c, json=chat({"type": "text", "text": "no audio"}))),
        (400, dict(url=c, json=chat(audio, audio))),
        (400, dict(url=c, json=chat({"type": "input_audio", "input_audio": {"data": "%%"}}))),
        (400, dict(url=c, json=chat(audio, task="DANCE"))),
        (400, dict(url=c, json=chat(audio, task=["ASR"]))),  # unhashable: was a 500
        (400, dict(url=c, json=chat(audio, task={"name": "ASR"}))),
        (400, dict(url=c, json=dict(chat(audio), model=["osum"]))),
        (400, dict(url=c, data=b"[" * 100_000 + b"]" * 100_000, headers=json_type)),
        (400, dict(url=c, json=url("data:audio/wav;base64,!!"))),
        (400, dict(url=c, json=url(f"file://{audio_files['en']}"))),
        (400, dict(url=c, json=url(str(audio_files["en"])))),
        (400, dict(url=c, json=url("http://127.0.0.1:9/a.wav"))),  # remote URLs are off
        (404, dict(url=c, json=dict(chat(audio), model="gpt-9"))),
        (404, dict(url=server + "/v1/models/gpt-9", method="GET")),
        (404, dict(url=server + "/v1/nothing", method="GET")),
        (405, dict(url=t, method="GET")),
        (413, dict(url=t, files={"file": ("big.wav", b"\0" * (2 << 20))})),
        (413, dict(url=t, data=chunked_upload(2 << 20), headers=form)),
        (413, dict(url=t, files={"file": ("long.wav", wav_of(np.zeros(25 * 8000)))})),  # 25 s
        (400, dict(url=t, files={"file": ("1hz.wav", bytes(one_hz))})),
    ]
    for status, kw in cases:
        res = requests.request(kw.pop("method", "POST"), timeout=60, **kw)
        error = error_of(res, status)
        if isinstance(kw.get("json"), dict) and "task" in kw["json"]:
            assert "SER" in error["message"]  # an unknown task lists the known ones
    long_question = chat({"type": "text", "text": "why? " * 401}, audio)  # 2004 characters
    error = error_of(requests.post(c, json=long_question, timeout=60), 400)
    assert "limit of 2000 (--max_question_chars)" in error["message"]
    res = requests.post(t, files={"file": ("hour.flac", hour.getvalue())}, timeout=60)
    assert "3600.0 s of audio is over this server's limit of 20 s" in error_of(res, 413)["message"]
    # still serving
    res = requests.post(t, files={"file": ("a.wav", wav)}, timeout=60)
    assert res.status_code == 200 and res.json()["text"]


def chunked_upload(size: int):
    """A multipart body of a ``size``-byte file, sent in chunks without a Content-Length."""
    yield b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    for _ in range(size // 65536):
        yield b"\0" * 65536


def wav_of(samples: np.ndarray, subtype: str = "PCM_16") -> bytes:
    """8 kHz wav bytes: small to send, long to decode."""
    buf = io.BytesIO()
    soundfile.write(buf, samples, 8000, format="WAV", subtype=subtype)
    return buf.getvalue()


def test_the_api_key(locked, audio_files):
    for key in (None, "wrong"):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        res = requests.get(locked + "/v1/models", headers=headers, timeout=10)
        assert error_of(res, 401)["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        client(locked, "wrong").models.list()
    for open_path in ("/health", "/demo", "/metrics"):
        assert requests.get(locked + open_path, timeout=10).status_code == 200
    with open(audio_files["en"], "rb") as f:
        assert client(locked, "secret").audio.transcriptions.create(model="osum", file=f).text


def test_a_full_queue_answers_429(locked, audio_files):
    c = client(locked, "secret")
    messages = audio_message(audio_files["long"])

    def ask(_):
        try:
            return c.chat.completions.create(model="osum", messages=messages).choices[0]
        except openai.RateLimitError as e:
            assert e.response.headers["retry-after"]
            return "429"

    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(ask, range(12)))
    assert 0 < answers.count("429") < 12, answers
    with open(audio_files["en"], "rb") as f:
        assert c.audio.transcriptions.create(model="osum", file=f).text


@pytest.fixture
def web(audio_files):
    """An http server of the audio files' dir on 127.0.0.1 (``/to?<url>``: a redirect
    there); yields its URL."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Files(SimpleHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if not self.path.startswith("/to?"):
                return super().do_GET()
            self.send_response(302)
            self.send_header("Location", self.path[4:])
            self.send_header("Content-Length", "0")
            self.end_headers()

    files = functools.partial(Files, directory=audio_files["en"].parent)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_remote_urls_only_where_allowed(server, locked, web):
    def ask(url: str, audio: str, key: str = "x"):
        parts = [{"type": "audio_url", "audio_url": {"url": f"{web}/{audio}"}}]
        body = {"model": "osum", "messages": [{"role": "user", "content": parts}]}
        headers = {"Authorization": f"Bearer {key}"}
        return requests.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=60)

    assert error_of(ask(server, "en.wav"), 400)["code"] == "remote_urls_disabled"
    res = ask(locked, "en.wav", "secret")
    assert res.status_code == 200 and res.json()["osum"]["task"] == "STTC"
    assert error_of(ask(locked, "missing.wav", "secret"), 400)["code"] == "fetch_failed"
    # redirects are followed, each one's host checked: 127.0.0.1 is let in, no other
    res = ask(locked, f"to?{web}/en.wav", "secret")
    assert res.status_code == 200 and res.json()["osum"]["task"] == "STTC"
    other_loopback = web.replace("127.0.0.1", "127.0.0.2")
    for target in (f"{other_loopback}/en.wav", "http://169.254.169.254/latest/meta-data/"):
        error = error_of(ask(locked, f"to?{target}", "secret"), 400)
        assert error["code"] == "url_not_allowed", error


def metric_values(url: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(url + "/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_the_requests(server, audio_files):
    before = metric_values(server)
    ok = ("osum_requests_total", (("endpoint", "/v1/audio/transcriptions"), ("status", "200")))
    bad = ("osum_requests_total", (("endpoint", "/v1/audio/transcriptions"), ("status", "400")))
    for _ in range(3):
        with open(audio_files["en"], "rb") as f:
            requests.post(server + "/v1/audio/transcriptions", files={"file": f}, timeout=60)
    requests.post(server + "/v1/audio/transcriptions", files={"file": b"x"}, timeout=60)
    after = metric_values(server)
    assert after[ok] - before.get(ok, 0) == 3 and after[bad] - before.get(bad, 0) == 1
    seconds = ("osum_audio_seconds_total", ())
    assert 3 < after[seconds] - before.get(seconds, 0) < 6  # three 1.5 s files
    assert after[("osum_batch_rows_count", ())] > before.get(("osum_batch_rows_count", ()), 0)
    latency = ("osum_request_seconds_count", (("endpoint", "/v1/audio/transcriptions"),))
    assert after[latency] - before.get(latency, 0) == 4
    assert ("osum_queue_length", ()) in after and ("osum_running_requests", ()) in after
    assert json.loads(requests.get(server + "/health", timeout=10).text) == {"status": "ok"}
