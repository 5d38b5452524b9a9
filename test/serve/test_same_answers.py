"""The server answers what ``Speech2Text`` gives for the same audio alone, though it decodes
concurrent requests together: greedy and beam search, several tasks, audio of 0.3 to 40 s
(two chunks), read from the bytes as the server reads them."""

import base64
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import running_server
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from osum.data.audio import decode_audio
from osum.decode.speech2text import Speech2Text

pytestmark = pytest.mark.slow

ARGS = ["--max_new_tokens", "24", "--max_body_mb", "4"]
SEARCHES = {"greedy": {}, "beam": {"beam_size": 3}}
QUESTION = "what is the weather like"
# (file, task, endpoint): chat completions, or transcriptions (ASR; SRWT with words)
JOBS = [
    ("en", "ASR", "chat"),
    ("en", "SER", "chat"),
    ("en", "SRWT", "transcriptions"),
    ("zh", "ASR", "transcriptions"),
    ("zh", "STTC", "chat"),
    ("zh", "SGC", "chat"),
    ("noise0.3", "ASR", "chat"),
    ("noise0.3", "AGE_GENDER", "chat"),
    ("noise2", "VED", "chat"),
    ("noise2", "SRWT", "chat"),
    ("noise8", "STTC", "chat"),
    ("noise8", "TRANSCRIBE_AGE_GENDER", "chat"),
    ("stereo", "SAP", "chat"),
    ("stereo", "ASR", "transcriptions"),
    ("long", "SER", "chat"),
    ("long", "SRWT", "transcriptions"),
]


@pytest.fixture(scope="module", params=sorted(SEARCHES))
def search(request, serving_model):
    """(server URL, the same model and options in this process), per search."""
    options = SEARCHES[request.param]
    args = [f"--{k}={v}" for k, v in options.items()]
    with running_server(serving_model, *ARGS, *args) as url:
        yield url, Speech2Text(str(serving_model), max_new_tokens=24, **options)


def ask(url: str, path, task: str, endpoint: str) -> dict:
    """The server's answer as ``{text?, transcript, labels?, answer?, words}``."""
    client = OpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    if endpoint == "transcriptions":
        with open(path, "rb") as f:
            r = client.audio.transcriptions.create(
                model="osum",
                file=f,
                response_format="verbose_json",
                timestamp_granularities=["word"] if task == "SRWT" else ["segment"],
            )
        return {"transcript": r.text, "words": [(w.start, w.end, w.word) for w in r.words or []]}
    data = base64.b64encode(path.read_bytes()).decode()
    parts = [{"type": "input_audio", "input_audio": {"data": data, "format": "wav"}}]
    if task == "STTC":
        parts.insert(0, {"type": "text", "text": QUESTION})
    r = client.chat.completions.create(
        model="osum", messages=[{"role": "user", "content": parts}], extra_body={"task": task}
    )
    osum = r.model_extra["osum"]
    assert osum["task"] == task
    words = [(w["start"], w["end"], w["word"]) for w in osum["words"]]
    return dict(osum, words=words)


def alone(s2t: Speech2Text, path, task: str) -> dict:
    """What Speech2Text gives for this file alone, in the server's fields."""
    samples = decode_audio(path.read_bytes(), path.name)
    wave = s2t.prepare(samples, 16000, path.name)
    question = QUESTION if task == "STTC" else None
    r = s2t.decode_batch([wave], [task], [question])[0]
    words = [(round(s, 3), round(max(s, e), 3), w) for s, e, w in r.parsed.alignment]
    return {
        "text": r.text,
        "transcript": r.parsed.transcript,
        "labels": r.parsed.labels,
        "answer": r.parsed.answer,
        "words": words,
    }


def rows_per_step(url: str) -> tuple:
    """(decoding steps of one row, all decoding steps) so far."""
    text = requests.get(url + "/metrics", timeout=10).text
    samples = {
        (s.name, s.labels.get("le")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return samples[("osum_batch_rows_bucket", "1.0")], samples[("osum_batch_rows_count", None)]


def test_concurrent_requests_get_the_answers_of_one_alone(search, audio_files):
    url, s2t = search
    jobs = JOBS if s2t.options.beam_size == 1 else JOBS[::2]  # beams decode slower alone
    with ThreadPoolExecutor(len(jobs)) as pool:
        answers = list(pool.map(lambda j: ask(url, audio_files[j[0]], *j[1:]), jobs))
    for (name, task, endpoint), got in zip(jobs, answers):
        want = alone(s2t, audio_files[name], task)
        for key in got.keys() & want.keys() - {"words"}:
            assert got[key] == want[key], (name, task, endpoint, key)
        if task == "SRWT":
            assert got["words"] == want["words"], (name, task, endpoint)
    one_row, steps = rows_per_step(url)
    assert one_row < steps  # some steps decoded several requests together
