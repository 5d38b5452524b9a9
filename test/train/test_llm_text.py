"""Training the LLM on text: the tiny LLMs' pretraining, answers-only training, and the text
phase between two speech phases."""

import json

import pytest
import torch

from osum.data import synthetic as mc
from osum.data.task_files import load_task_info


def test_llm_text_pretraining_learns_the_answers_and_loads_back(corpus, tmp_path):
    """The LLM's stand-in pretraining: the targets are the transcripts and STTC's
    question + answer (no labels), once each; training lowers the loss, is deterministic,
    and the model written back loads through from_pretrained."""
    from transformers import Qwen2ForCausalLM

    from osum.dev.tiny_models import build_tiny_models
    from osum.train.llm_text import pretrain_llm_on_text, text_targets

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
    from transformers import Qwen2ForCausalLM

    from osum.dev.tiny_models import build_tiny_models
    from osum.model.llm import load_tokenizer
    from osum.train.llm_text import answer_context, text_targets, train_causal_lm

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
