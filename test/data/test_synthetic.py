"""The mini_osum corpus: exact labels, disjoint splits, determinism, every task."""

import json
import random
import re
from collections import Counter

import numpy as np
import pytest
import soundfile

from osum.asrx.text_norm import units
from osum.data import synthetic as mc
from osum.data.task_files import load_task_info, read_ctm, validate_task_files, write_task_info

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


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("mini")
    counts = mc.make_corpus(str(d), {"train": 8, "test": 4}, seed=3, nj=2)
    assert counts == {"train": 64, "test": 32}
    return d


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


def test_llm_text_pretraining_learns_the_answers_and_loads_back(corpus, tmp_path):
    """The LLM's stand-in pretraining: the targets are the transcripts and STTC's
    question + answer (no labels), once each; training lowers the loss, is deterministic,
    and the model written back loads through from_pretrained."""
    import torch
    from transformers import Qwen2ForCausalLM

    from osum.dev.tiny_models import build_tiny_models, pretrain_llm_on_text, text_targets

    d = corpus / "train"
    llm, _ = build_tiny_models(str(tmp_path / "m"), mc.corpus_text(3), llm_dim=64, llm_layers=2)
    seqs = text_targets(str(d), str(llm))
    from osum.asrx.preprocess import OSUMPreprocessor

    pre = OSUMPreprocessor(train=False, tokenizer=str(llm))
    texts = [pre.tokenizer.decode(s[1:-1]) for s in seqs]
    info = load_task_info(d)
    sentences = {line.split(" ", 1)[1].strip() for line in (d / "text").read_text().splitlines()}
    sttc = {i["answer"] for i in info.values() if i["task"] == "STTC"}
    every = text_targets(str(d), str(llm), unique=False)
    assert len(every) == len(info) and seqs == sorted(map(list, {tuple(s) for s in every}))
    assert all(s[0] == s[-1] == pre.end_id for s in seqs)
    chat = [t for t in texts if "<开始回答>" in t]
    assert chat and {t.split("<开始回答>")[1] for t in chat} <= sttc
    assert not any(f"<{x}>" in t for t in texts for x in [*mc.EMOTIONS, *mc.EVENTS])
    assert {t for t in texts if "<" not in t} <= {
        pre.registry["ASR"].build_target({"text": s}) for s in sentences
    }

    only = text_targets(str(d), str(llm), tasks=["STTC"])
    assert only and only == [s for s, t in zip(seqs, texts) if "<开始回答>" in t]
    with pytest.raises(ValueError, match="unknown tasks"):
        text_targets(str(d), str(llm), tasks=["QA"])

    before = Qwen2ForCausalLM.from_pretrained(str(llm)).state_dict()
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in llm.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    report = pretrain_llm_on_text(str(llm), seqs, epochs=10, batch_size=8, warmup_steps=5)
    again = pretrain_llm_on_text(str(copy), seqs, epochs=10, batch_size=8, warmup_steps=5)
    assert report["epoch_loss"] == again["epoch_loss"]  # deterministic under the seed
    assert report["epoch_loss"][-1] < 0.5 * report["epoch_loss"][0]
    after = Qwen2ForCausalLM.from_pretrained(str(llm)).state_dict()
    assert set(after) == set(before) and not torch.equal(
        after["lm_head.weight"], before["lm_head.weight"]
    )
    assert (llm / "text_pretraining.json").is_file()
    with pytest.raises(ValueError, match="no text"):
        pretrain_llm_on_text(str(llm), [], epochs=1)


def test_answers_only_training_reads_the_question_and_learns_the_answer(corpus, tmp_path):
    """answer_context: the chat sequences and their tokens up to the answer marker; with it
    as context, the loss is on the answers alone: the questions are not learnt."""
    import torch
    from transformers import Qwen2ForCausalLM

    from osum.dev.tiny_models import (
        answer_context,
        build_tiny_models,
        text_targets,
        train_causal_lm,
    )
    from osum.model.llm import load_tokenizer

    llm, _ = build_tiny_models(str(tmp_path / "m"), mc.corpus_text(3), llm_dim=64, llm_layers=2)
    tok = load_tokenizer(llm)
    seqs = text_targets(str(corpus / "train"), str(llm))
    chat, context = answer_context(seqs, str(llm))
    assert chat and len(chat) < len(seqs)  # the transcripts have no answer
    for seq, n in zip(chat, context):
        assert tok.decode(seq[:n]).endswith("<开始回答>") and "<开始回答>" not in tok.decode(
            seq[n:]
        )

    def loss_on(model, part):  # mean loss of the questions' or the answers' tokens
        total = []
        for seq, n in zip(chat, context):
            logp = model(input_ids=torch.tensor([seq])).logits[0, :-1].log_softmax(-1)
            nll = -logp.gather(1, torch.tensor(seq[1:])[:, None])[:, 0]
            total.append(nll[: n - 1].mean() if part == "question" else nll[n - 1 :].mean())
        return float(torch.stack(total).mean())

    model = Qwen2ForCausalLM.from_pretrained(str(llm))
    with torch.no_grad():
        before = {p: loss_on(model, p) for p in ("question", "answer")}
    report = train_causal_lm(model, chat, epochs=15, batch_size=2, warmup_steps=5, context=context)
    with torch.no_grad():
        after = {p: loss_on(model, p) for p in ("question", "answer")}
    assert report["context_only_tokens"] == sum(context)
    assert after["answer"] < 0.5 * before["answer"]
    assert after["question"] > 0.8 * before["question"]  # read, not learnt
    with pytest.raises(ValueError, match="context lengths"):
        train_causal_lm(model, chat, epochs=1, context=context[:-1])


def test_llm_text_train_replaces_only_the_llm_weights(corpus, tmp_path):
    import torch
    import yaml
    from transformers import AutoModelForCausalLM

    from osum.bin.llm_text_train import main as text_train
    from osum.dev.tiny_models import build_tiny_models

    llm, _ = build_tiny_models(str(tmp_path / "m"), mc.corpus_text(3), llm_dim=64, llm_layers=2)
    state = {
        f"llm.{k}": v
        for k, v in AutoModelForCausalLM.from_pretrained(str(llm)).state_dict().items()
    }
    state["encoder.w"] = torch.ones(3)
    torch.save(state, tmp_path / "init.pth")
    for name, lora in (("plain", False), ("lora", True)):
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump({"llm_conf": {"path": str(llm), "lora": lora}})
        )
    conf = tmp_path / "text.yaml"
    conf.write_text(
        "llm_text_training: {tasks: [STTC], epochs: 3, batch_size: 8, warmup_steps: 2}\n"
    )
    args = [
        "--config",
        str(conf),
        "--init_model",
        str(tmp_path / "init.pth"),
        "--data_dir",
        str(corpus / "train"),
    ]
    text_train(
        [
            *args,
            "--train_config",
            str(tmp_path / "plain.yaml"),
            "--output_dir",
            str(tmp_path / "out"),
        ]
    )
    out = torch.load(tmp_path / "out" / "valid.loss.ave.pth", weights_only=True)
    assert set(out) == set(state) and torch.equal(out["encoder.w"], state["encoder.w"])
    assert not torch.equal(out["llm.lm_head.weight"], state["llm.lm_head.weight"])
    assert (tmp_path / "out" / "config.yaml").read_text() == (tmp_path / "plain.yaml").read_text()
    # a LoRA LLM's weights are named otherwise: the model file does not fit it
    with pytest.raises(SystemExit, match="do not fit the LLM"):
        text_train(
            [
                *args,
                "--train_config",
                str(tmp_path / "lora.yaml"),
                "--output_dir",
                str(tmp_path / "x"),
            ]
        )
    # answers_only: the chat sequences alone, their questions as context
    conf.write_text("llm_text_training: {epochs: 1, answers_only: true}\n")
    out = tmp_path / "answers"
    text_train([*args, "--train_config", str(tmp_path / "plain.yaml"), "--output_dir", str(out)])
    report = json.loads((out / "text_training.json").read_text())
    assert report["sequences"] == 8 and report["context_only_tokens"] > 8 * 3
    conf.write_text("llm_text_training: {epoch: 3}\n")
    with pytest.raises(SystemExit, match="unknown keys"):
        text_train(
            [
                *args,
                "--train_config",
                str(tmp_path / "plain.yaml"),
                "--output_dir",
                str(tmp_path / "x"),
            ]
        )
