"""The mini_osum corpus: exact labels, disjoint splits, determinism, every task."""

import random
import re
from collections import Counter

import numpy as np
import pytest
import soundfile

from osum.asrx.text_norm import units
from osum.data import synthetic as mc
from osum.data.kaldi import read_ctm
from osum.data.task_files import load_task_info, validate_task_files, write_task_info

SIZES = {"train": 84, "dev": 4, "test": 8}  # 84: every class of every task, 4 voices each


def test_plan_is_deterministic_and_balanced():
    a, b, c = mc.plan(SIZES, 0), mc.plan(SIZES, 0), mc.plan(SIZES, 1)
    assert a == b and a != c
    train = a["train"]
    assert Counter(r["task"] for r in train) == {t: 84 for t in mc.TASKS}
    for task, field, labels in [
        ("SER", "emotion", mc.EMOTIONS),
        ("SSR", "style", mc.STYLES),
        ("SAP", "age", mc.AGES),
        ("VED", "event", mc.EVENTS),
    ]:
        counts = Counter(r[field] for r in train if r["task"] == task)
        assert set(counts) == set(labels) and len(set(counts.values())) == 1, counts
        # every class is spoken by all four voices
        for label in labels:
            voices = {r["voice"] for r in train if r["task"] == task and r[field] == label}
            assert len(voices) == 4
    genders = {(r["voice"], r["gender"]) for r in train if r["task"] == "SGC"}
    assert genders == {(v, g) for vs in mc.VOICES.values() for v, g in vs}
    assert len({r["utt"] for r in train}) == len(train)


def test_time_tokens_make_every_srwt_time_one_token(tmp_path):
    from dataclasses import replace

    from osum.asrx.registry import TASKS
    from osum.dev.tiny_models import build_tokenizer, time_token_strings
    from osum.model.llm import load_tokenizer

    build_tokenizer(str(tmp_path), mc.corpus_text(0), 400, time_tokens=1)
    tok = load_tokenizer(tmp_path)  # as training and decoding load it
    srwt = replace(TASKS["SRWT"], time_decimals=1)
    target = srwt.build_target(
        {"text": "open the", "alignment": [(0.12, 0.31, "open"), (0.33, 0.5, "the")]}
    )
    assert target == "<0.1>open<0.3><0.3>the<0.5>"
    ids = tok.encode(target, add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(ids)
    assert [p for p in pieces if p.startswith("<")] == re.findall(r"<[\d.]+>", target)
    assert tok.decode(ids) == target
    assert time_token_strings(1)[-1] == "<30.0>" and len(time_token_strings(0)) == 31
    with pytest.raises(ValueError, match="decimals"):
        time_token_strings(3)


def test_splits_share_no_sentence_and_every_test_fact_is_taught():
    pools, questions = mc.split_pools(0)
    for lang in ("en", "zh"):
        sets = [set(pools[s][lang]) for s in mc.SPLITS]
        assert all(sets) and sum(map(len, sets)) == len(set().union(*sets))
    qsets = {s: {q for _, q, _ in questions[s]} for s in mc.SPLITS}
    assert not qsets["train"] & qsets["test"] and not qsets["train"] & qsets["dev"]
    assert not qsets["dev"] & qsets["test"]
    # every fact with six carriers in training, two in dev and two in test
    assert [len(questions[s]) / len(mc.facts()) for s in mc.SPLITS] == [6, 2, 2]
    taught = {(lang, a) for lang, _, a in questions["train"]}
    facts = {(lang, q, a) for lang, q, a in mc.facts()}
    for lang, q, a in questions["test"]:
        assert (lang, a) in taught
        assert any(q.endswith(fq) and fa == a for fl, fq, fa in facts if fl == lang), q
    plan = mc.plan({"train": 40, "test": 40}, 0)
    seen = {r["text"] for r in plan["train"]}
    # STTC questions are asked in turn: no test question twice before all were asked
    asked = [r["text"] for r in plan["test"] if r["task"] == "STTC"]
    assert len(set(asked)) == len(asked) == 40
    plan_all = mc.plan({"train": 2 * len(questions["train"])}, 0)
    assert {r["text"] for r in plan_all["train"] if r["task"] == "STTC"} == qsets["train"]
    assert not seen & {r["text"] for r in plan["test"]}
    # the tokenizer's text is the training split's: no test sentence in it
    text = set(mc.corpus_text(0))
    assert not text & {r["text"] for r in plan["test"] if r["task"] != "STTC"}


def test_answers_are_right():
    def value(word):
        return (mc.EN_DIGITS.index(word) if word in mc.EN_DIGITS else mc.ZH_DIGITS.index(word)) + 1

    for lang, q, a in mc.facts():
        if lang == "en" and "plus" in q:
            x, y = q.removeprefix("what is ").split(" plus ")
            assert value(a) == value(x) + value(y)
        elif lang == "en":
            assert value(a) == value(q.split()[-1]) + 1
        elif "加" in q:
            assert value(a) == value(q[0]) + value(q[2])
        else:
            assert value(a) == value(q[0]) + 1


def test_corpus_validates_and_has_every_task(corpus):
    for split in ("train", "test"):
        d = corpus / split
        assert validate_task_files(d) == []
        write_task_info(d)
        info = load_task_info(d)
        assert {i["task"] for i in info.values()} == set(mc.TASKS)
        for utt, i in info.items():
            audio, rate = soundfile.read(i.get("wav") or str(d / "wav" / f"{utt}.wav"))
            assert rate == 16000 and np.isfinite(audio).all() and np.abs(audio).max() > 0.05
        sttc = [i for i in info.values() if i["task"] == "STTC"]
        assert sttc and all(i["answer"] for i in sttc)


def test_srwt_times_are_exact(corpus):
    d = corpus / "train"
    ctm = read_ctm(d / "ctm")
    text = dict(line.split(maxsplit=1) for line in (d / "text").read_text().splitlines())
    assert ctm and all(u.split("-")[1] == "srwt" for u in ctm)
    for utt, words in ctm.items():
        audio, rate = soundfile.read(d / "wav" / f"{utt}.wav")
        assert [w for _, _, w, _ in words] == units(text[utt])
        spans = [(round(s * rate), round(e * rate)) for s, e, _, _ in words]
        edges = [0] + [x for span in spans for x in span] + [len(audio)]
        for k in range(0, len(edges), 2):  # silences between (and around) the units
            gap = audio[edges[k] + 2 : max(edges[k + 1] - 2, edges[k] + 2)]
            assert np.abs(gap).max(initial=0) < 1e-3, (utt, k)
        for s, e in spans:  # each unit starts and ends with sound
            assert np.abs(audio[s : s + 80]).max() > 1e-3 and np.abs(audio[e - 80 : e]).max() > 1e-3


def test_every_rendering_differs(tmp_path):
    rng = random.Random(0)
    for labels in (mc.EMOTIONS, mc.STYLES, mc.AGES):
        rendered = [mc.speak("open the door", "en-us", str(tmp_path), **o) for o in labels.values()]
        for i in range(len(rendered)):
            for j in range(i):
                a, b = rendered[i], rendered[j]
                assert len(a) != len(b) or not np.allclose(a, b, atol=1e-3)
    events = [mc.event_sound(e, rng, str(tmp_path)) for e in mc.EVENTS]
    assert all(0.3 < len(x) / 16000 < 1.5 and abs(np.abs(x).max() - 0.5) < 1e-3 for x in events)
    with pytest.raises(ValueError, match="unknown event 'bark'"):
        mc.event_sound("bark", rng, str(tmp_path))


def test_audio_is_the_same_in_every_run(corpus, tmp_path):
    """sox runs in repeatable mode (-R): its dither and noise do not change between runs."""
    again = tmp_path / "again"
    mc.make_corpus(str(again), {"train": 8, "test": 4}, seed=3, nj=1)
    first = sorted(p.relative_to(corpus) for p in corpus.rglob("*.wav"))
    assert first and first == sorted(p.relative_to(again) for p in again.rglob("*.wav"))
    for rel in first:
        assert (corpus / rel).read_bytes() == (again / rel).read_bytes(), rel
