"""The engine: requests from many threads decoded together, each answer what Speech2Text
gives for it alone; a request joins a running batch at a decoding step."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from osum.decode.engine import Engine, EngineClosed, QueueFull
from osum.decode.speech2text import Speech2Text
from osum.dev.tiny_setup import serving_model

TASKS = ["ASR", "SER", "SRWT", "STTC", "SGC", "AGE_GENDER", "SAP", "VED"]
SECONDS = [0.3, 0.8, 1.5, 2.5, 4.0, 6.0, 9.0, 0.5, 3.0, 1.1]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return serving_model(tmp_path_factory.mktemp("engine_model"))


def waves(s2t, seconds=SECONDS, seed=2):
    rng = np.random.default_rng(seed)
    return [
        s2t.prepare(0.1 * rng.standard_normal(int(s * 16000)).astype("float32"), 16000, i)
        for i, s in enumerate(seconds)
    ]


def concurrently(engine, items, workers=8):
    """Submits ``(wave, task)`` items from ``workers`` threads at staggered times."""

    def one(i):
        time.sleep(0.01 * (i % 5))
        wave, task = items[i]
        return engine.submit(wave, task).result(120)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, range(len(items))))


@pytest.fixture(scope="module")
def ctc_model(tmp_path_factory):
    return serving_model(tmp_path_factory.mktemp("engine_ctc_model"), ctc=True)


@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(beam_size=3),
        dict(beam_size=2, do_sample=True, top_k=5, top_p=0.9, seed=0, repetition_penalty=1.05),
        dict(repetition_penalty=1.2, max_new_tokens=20),
        dict(ctc_weight=0.3),
        dict(ctc_weight=0.3, beam_size=2),
    ],
    ids=["greedy", "beam", "beam_sampling", "repetition_penalty", "ctc", "ctc_beam"],
)
def test_answers_equal_speech2text_alone(model, ctc_model, options):
    options = dict(dict(max_new_tokens=32), **options)
    path = ctc_model if options.get("ctc_weight") else model
    s2t = Speech2Text(str(path), chunk_seconds=5.0, **options)  # 6 s and 9 s in chunks
    ws = waves(s2t)
    items = [(w, TASKS[i % len(TASKS)]) for i, w in enumerate(ws)] * 2
    alone = [s2t.decode_batch([w], [t])[0] for w, t in items]
    rows = []
    engine = Engine(s2t, max_rows=12).start()
    engine.on_step = rows.append
    try:
        got = concurrently(engine, items)
    finally:
        engine.close()
    assert [g.text for g in got] == [a.text for a in alone]
    assert [g.parsed for g in got] == [a.parsed for a in alone]
    assert [g.chunks for g in got] == [a.chunks for a in alone]
    assert max(rows) > options.get("beam_size", 1) * 2  # requests were decoded together
    assert max(rows) <= 12


def test_a_request_joins_at_a_decoding_step(model):
    """A request sent while another decodes is decoded in the same steps from the next
    step on: it does not wait for the first one's end."""
    s2t = Speech2Text(str(model), max_new_tokens=48)
    long_wave, short_wave = waves(s2t, [9.0, 0.5], seed=5)
    head = s2t.model.llm.get_base_model().lm_head.weight
    end_row = head[s2t.pre.end_id].clone()
    rows = []
    started = threading.Event()
    engine = Engine(s2t, max_rows=8).start()
    engine.on_step = lambda n: (rows.append(n), len(rows) == 5 and started.set())
    try:
        head.data[s2t.pre.end_id] = 0.0  # both run to max_new_tokens
        alone = [s2t(w.numpy(), task="ASR").text for w in (long_wave, short_wave)]
        first = engine.submit(long_wave, "ASR")
        assert started.wait(60)
        second = engine.submit(short_wave, "ASR")
        got = [first.result(60).text, second.result(60).text]
    finally:
        head.data[s2t.pre.end_id] = end_row
        engine.close()
    assert got == alone
    joined = rows.index(2)
    assert 5 <= joined <= 12  # at a step soon after it came
    assert rows == [1] * joined + [2] * (48 - joined) + [1] * joined  # then 48 steps of its own


def test_streamed_text_grows_to_the_answer(model):
    s2t = Speech2Text(str(model), max_new_tokens=32)
    (wave,) = waves(s2t, [2.0])
    texts = []
    engine = Engine(s2t).start()
    try:
        result = engine.submit(wave, "STTC", "what is it?", on_text=texts.append).result(60)
    finally:
        engine.close()
    assert result.text == s2t.decode_batch([wave], ["STTC"], ["what is it?"])[0].text
    assert texts[-1] == result.text and len(texts) > 2
    assert all(b.startswith(a.rstrip("\ufffd")) for a, b in zip(texts, texts[1:]))


def test_without_batching_one_request_at_a_time(model):
    s2t = Speech2Text(str(model), max_new_tokens=16)
    ws = waves(s2t, [0.5, 1.0, 1.5, 2.0])
    rows = []
    engine = Engine(s2t, batching=False).start()
    engine.on_step = rows.append
    try:
        got = concurrently(engine, [(w, "SER") for w in ws], workers=4)
    finally:
        engine.close()
    assert set(rows) == {1}
    assert [g.text for g in got] == [s2t.decode_batch([w], ["SER"])[0].text for w in ws]


def test_a_full_queue_and_a_closed_engine_refuse(model):
    s2t = Speech2Text(str(model), max_new_tokens=8)
    (wave,) = waves(s2t, [1.0])
    engine = Engine(s2t, max_queue=2)  # not started: nothing leaves the queue
    pending = [engine.submit(wave, "ASR"), engine.submit(wave, "ASR")]
    with pytest.raises(QueueFull):
        engine.submit(wave, "ASR")
    with pytest.raises(ValueError, match="unknown task 'NOPE'"):
        engine.submit(wave, "NOPE")
    engine.close()
    for f in pending:
        with pytest.raises(EngineClosed):
            f.result(5)
    with pytest.raises(EngineClosed):
        engine.submit(wave, "ASR")
    for bad in (wave[:100], wave[None], wave.long(), wave.numpy()):
        with pytest.raises(ValueError, match="1-D float tensor"):
            engine.submit(bad, "ASR")


def test_a_cancelled_request_leaves_and_the_others_go_on(model):
    s2t = Speech2Text(str(model), max_new_tokens=40)
    a, b = waves(s2t, [3.0, 2.0], seed=7)
    head = s2t.model.llm.get_base_model().lm_head.weight
    end_row = head[s2t.pre.end_id].clone()
    rows, started = [], threading.Event()
    engine = Engine(s2t, max_rows=8)
    engine.on_step = lambda n: (rows.append(n), len(rows) == 4 and started.set())
    try:
        head.data[s2t.pre.end_id] = 0.0  # both run to max_new_tokens
        alone = s2t(b.numpy(), task="SER").text
        first, second = engine.submit(a, "ASR"), engine.submit(b, "SER")
        engine.start()
        assert started.wait(60)
        assert first.cancel()
        got = second.result(60).text
    finally:
        head.data[s2t.pre.end_id] = end_row
        engine.close()
    assert got == alone and first.cancelled()
    assert rows[:4] == [2] * 4 and rows[-1] == 1 and len(rows) == 40
    assert engine.running == 0


def test_a_request_that_fails_fails_alone(model):
    """A request whose audio cannot be decoded, or whose text callback raises, fails; the
    requests decoded with it are answered."""
    s2t = Speech2Text(str(model), max_new_tokens=16)
    good, other, bad_audio = waves(s2t, [1.5, 2.5, 12345 / 16000], seed=8)
    batch_inputs = s2t.batch_inputs

    def failing(jobs):  # as an out-of-memory or a broken file would, for one request
        if any(len(j.samples) == 12345 for j in jobs):
            raise RuntimeError("this audio cannot be decoded")
        return batch_inputs(jobs)

    s2t.batch_inputs = failing

    def broken(text):
        raise RuntimeError("the client's callback broke")

    engine = Engine(s2t, max_rows=8)  # all queued first: admitted together
    futures = [
        engine.submit(good, "ASR"),
        engine.submit(bad_audio, "ASR"),
        engine.submit(other, "ASR", on_text=broken),
        engine.submit(other, "SER"),
    ]
    engine.start()
    try:
        assert futures[0].result(60).text == s2t(good.numpy(), task="ASR").text
        assert futures[3].result(60).text == s2t(other.numpy(), task="SER").text
        with pytest.raises(RuntimeError, match="cannot be decoded"):
            futures[1].result(60)
        with pytest.raises(RuntimeError, match="callback broke"):
            futures[2].result(60)
        # and the engine goes on
        assert engine.submit(good, "ASR").result(60).text == futures[0].result().text
    finally:
        engine.close()


def test_a_request_of_more_chunks_than_rows_is_decoded_a_few_at_a_time(model):
    s2t = Speech2Text(str(model), max_new_tokens=16, chunk_seconds=1.0)
    (wave,) = waves(s2t, [6.5], seed=9)  # 7 chunks
    rows = []
    engine = Engine(s2t, max_rows=2).start()
    engine.on_step = rows.append
    try:
        got = engine.submit(wave, "SRWT").result(120)
    finally:
        engine.close()
    alone = s2t.decode_batch([wave], ["SRWT"])[0]
    assert got.text == alone.text and got.chunks == alone.chunks and len(got.chunks) == 7
    assert max(rows) == 2


def test_run_decodes_in_the_calling_thread_until_closed(model):
    """(a server decodes in its main thread: osum.serve.runner)"""
    s2t = Speech2Text(str(model), max_new_tokens=8)
    (wave,) = waves(s2t, [1.0])
    engine = Engine(s2t)
    got = []

    def client():
        got.append(engine.submit(wave, "ASR").result(60).text)
        engine.close()

    thread = threading.Thread(target=client)
    thread.start()
    engine.run()  # returns once the client closed it
    thread.join(10)
    assert got == [s2t(wave.numpy(), task="ASR").text]
    with pytest.raises(EngineClosed):
        engine.submit(wave, "ASR")
