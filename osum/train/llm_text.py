"""Training the LLM on text alone: the text phase between two speech phases, and the tiny
LLMs' stand-in for pretraining.

A text phase (``python -m osum.bin.llm_text_train``, osum.sh's ``--train_phases`` entry
whose config has ``llm_text_training:``) builds the LLM as the model builds it
(``llm_conf`` of the previous phase's config: its path, LoRA or not), gives it the LLM
weights of the previous phase's model file, and trains it on the targets the text alone
determines (:func:`text_targets`: transcripts, and a chat task's question, marker and
answer), with LoRA only its adapters. The model file is written back whole, the LLM's
weights replaced, with the config beside it, so the next phase starts from it; the report
(losses, time) is ``text_training.json``.

The config: ``llm_text_training: {tasks: [STTC], epochs: 40, batch_size: 16, lr: 2.0e-3,
warmup_steps: 50, seed: 0, answers_only: false}`` (all optional; tasks: all).
``answers_only: true`` keeps the chat tasks' sequences alone and puts the loss on their
answers only (:func:`answer_context`): the LLM learns what to answer to a question without
learning the training questions by heart, a prior that would outweigh what the audio says
when it transcribes a new one.
"""

import json
from pathlib import Path
from typing import Sequence, Tuple

import yaml

from osum.files import atomic_path, write_text

KEYS = {"tasks", "epochs", "batch_size", "lr", "warmup_steps", "seed", "answers_only"}


def train_phase(
    config: dict,
    init_model: str,
    train_config: str,
    data_dir: str,
    output_dir: str,
    model_file: str,
) -> dict:
    """A text phase (module doc): the LLM of ``init_model`` trained on ``data_dir``'s text as
    ``config``'s ``llm_text_training`` says; writes ``output_dir/model_file``, the config
    and ``text_training.json``, and returns the report."""
    import torch

    from osum.asrx.registry import build_registry
    from osum.model.checkpoint import load_model_file
    from osum.model.llm import build_llm

    conf = dict(config.get("llm_text_training") or {})
    unknown = sorted(set(conf) - KEYS)
    if unknown:
        raise ValueError(f"llm_text_training: unknown keys {unknown}; known: {sorted(KEYS)}")
    with open(train_config, encoding="utf-8") as f:
        trained = yaml.safe_load(f) or {}
    llm_conf = dict(trained.get("llm_conf") or {})
    if "path" not in llm_conf:
        raise ValueError(f"{train_config}: no llm_conf.path")
    llm = build_llm(**llm_conf)
    state = load_model_file(init_model)
    mine = {k[len("llm.") :]: v for k, v in state.items() if k.startswith("llm.")}
    missing, unexpected = llm.load_state_dict(mine, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"{init_model}: its llm.* weights do not fit the LLM of {train_config} "
            f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})"
        )
    task_conf = (trained.get("preprocessor_conf") or {}).get("task_conf")
    answers_only = bool(conf.pop("answers_only", False))
    seqs = text_targets(
        data_dir, llm_conf["path"], tasks=conf.pop("tasks", None),
        registry=build_registry(**task_conf) if task_conf else None,
    )  # fmt: skip
    context = None
    if answers_only:
        seqs, context = answer_context(seqs, llm_conf["path"])
        if not seqs:
            raise ValueError(f"answers_only: {data_dir} has no chat task with an answer")
    report = train_causal_lm(llm, seqs, context=context, **conf)
    for k, v in llm.state_dict().items():
        state[f"llm.{k}"] = v.to(state[f"llm.{k}"].dtype)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / model_file) as tmp:
        torch.save(state, tmp)
    write_text(out / "config.yaml", Path(train_config).read_text(encoding="utf-8"))
    report.update(init_model=str(init_model), data_dir=str(data_dir))
    write_text(out / "text_training.json", json.dumps(report, indent=1) + "\n")
    return report


def text_targets(
    data_dir: str,
    tokenizer_dir: str,
    tasks: Sequence[str] | None = None,
    registry=None,
    unique: bool = True,
) -> list:
    """Token ids of the targets a data dir's text alone determines, as training builds them
    (:class:`osum.asrx.preprocess.OSUMPreprocessor`), each between two end tokens: for a chat
    task (STTC) the transcript, the marker and the answer; for any other task the
    transcript (ASR's target). Labels are left out: they come from the audio. ``tasks``
    keeps the utterances of those tasks only (``["STTC"]``: the questions and answers).
    With ``unique`` each distinct target once (a sentence spoken for several tasks is one
    sequence), sorted."""
    from osum.asrx.preprocess import OSUMPreprocessor
    from osum.data.kaldi import read_table
    from osum.data.task_files import load_task_info

    pre = OSUMPreprocessor(train=False, tokenizer=tokenizer_dir)
    if registry is not None:
        pre.registry = registry
    unknown = sorted(set(tasks or []) - set(pre.registry))
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; known: {list(pre.registry)}")
    texts = read_table(Path(data_dir) / "text")
    out = []
    for utt, info in sorted(load_task_info(data_dir).items()):
        text = texts[utt][0] if utt in texts else ""
        if (tasks and info["task"] not in tasks) or not text.strip():
            continue
        name = info["task"] if pre.registry[info["task"]].chat else "ASR"
        target = pre.registry[name].build_target(dict(info, text=text))
        out.append((pre.end_id, *pre.encode(target), pre.end_id))
    return [list(s) for s in sorted(set(out))] if unique else [list(s) for s in out]


def answer_context(sequences: list, tokenizer_dir: str) -> Tuple[list, list]:
    """The sequences of :func:`text_targets` that hold a chat answer, and for each the
    number of its tokens up to the answer marker (``<开始回答>``) included: the context of
    its answer, for :func:`train_causal_lm`'s ``context``."""
    from osum.asrx.registry import ANSWER_MARKER
    from osum.model.llm import load_tokenizer

    marker = load_tokenizer(tokenizer_dir).encode(ANSWER_MARKER, add_special_tokens=False)
    kept, context = [], []
    for seq in sequences:
        at = next(
            (i for i in range(len(seq) - len(marker) + 1) if seq[i : i + len(marker)] == marker),
            None,
        )
        if at is not None:
            kept.append(seq)
            context.append(at + len(marker))
    return kept, context


def train_causal_lm(
    model,
    sequences: list,
    epochs: int = 10,
    batch_size: int = 16,
    lr: float = 2e-3,
    warmup_steps: int = 50,
    seed: int = 0,
    context: Sequence[int] | None = None,
) -> dict:
    """Train a causal LM (HF ``*ForCausalLM``, or its peft wrapper: then only its trainable
    parameters) in place on token id ``sequences``: AdamW, linear warm-up then linear
    decay to 0, right padding with the loss on real tokens only, gradients clipped at 5;
    deterministic under ``seed``. ``context``: per sequence, how many of its first tokens
    are only read, not predicted (the loss is on the rest). Returns the settings, the
    mean loss of each epoch and the time taken."""
    import random
    import time

    import torch

    if not sequences:
        raise ValueError("no text to train the LLM on")
    if context is not None and len(context) != len(sequences):
        raise ValueError(f"{len(context)} context lengths for {len(sequences)} sequences")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.98), weight_decay=0.01)
    steps = epochs * ((len(sequences) + batch_size - 1) // batch_size)
    sched = _warmup_then_decay(opt, warmup_steps, steps)
    start, losses = time.perf_counter(), []
    order = list(range(len(sequences)))
    read_only = list(context) if context is not None else [0] * len(sequences)
    examples = list(zip(sequences, read_only))
    for _ in range(epochs):
        rng.shuffle(order)
        batches = (
            [examples[j] for j in order[i : i + batch_size]]
            for i in range(0, len(order), batch_size)
        )
        losses.append(_train_epoch(model, opt, sched, params, batches))
    model.eval()
    return {
        "sequences": len(sequences),
        "context_only_tokens": sum(context) if context is not None else 0,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "steps": steps,
        "epoch_loss": losses,
        "seconds": round(time.perf_counter() - start, 1),
    }


def _warmup_then_decay(opt, warmup_steps: int, steps: int):
    """The learning rate of ``opt`` rising linearly over ``warmup_steps``, then falling
    linearly to 0 at ``steps``."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: min(
            (s + 1) / max(warmup_steps, 1), max(0.0, (steps - s) / max(steps - warmup_steps, 1))
        ),
    )


def _train_epoch(model, opt, sched, params, batches) -> float:
    """One optimiser step a batch of (sequence, read-only tokens) pairs; returns the
    epoch's mean loss a sequence, to 4 decimals."""
    import torch

    total, count = 0.0, 0
    for batch in batches:
        ids, mask, labels = _padded_batch(batch)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        sched.step()
        total, count = total + float(loss.detach()) * len(batch), count + len(batch)
    return round(total / count, 4)


def _padded_batch(batch: list):
    """(token ids, read-only tokens) pairs, right-padded: ids, attention mask and labels
    (batch, longest), the labels -100 on the padding and on the read-only tokens."""
    import torch

    width = max(len(seq) for seq, _ in batch)
    ids = torch.zeros(len(batch), width, dtype=torch.long)
    mask = torch.zeros(len(batch), width, dtype=torch.long)
    scored = torch.zeros(len(batch), width, dtype=torch.bool)
    for r, (seq, read_only) in enumerate(batch):
        ids[r, : len(seq)] = torch.tensor(seq)
        mask[r, : len(seq)] = 1
        scored[r, read_only : len(seq)] = True
    return ids, mask, ids.masked_fill(~scored, -100)


def pretrain_llm_on_text(llm_dir: str, sequences: list, **train_opts) -> dict:
    """Train the causal LM in ``llm_dir`` on token id ``sequences`` (:func:`train_causal_lm`
    with ``train_opts``) and save it back.

    A recipe's stand-in for the LLM's pretraining, as CTC on the encoder stands in for
    Whisper's: a tiny LLM learns the language of the corpus and the facts of its answers
    from the training split's text (:func:`text_targets`) before it learns to read
    speech. Returns :func:`train_causal_lm`'s report (also written to
    ``<llm_dir>/text_pretraining.json``)."""
    import json

    import torch
    from transformers import AutoModelForCausalLM

    from osum.model.llm import quiet_loading

    if not sequences:
        raise ValueError(f"{llm_dir}: no text to pretrain the LLM on")
    with quiet_loading():
        model = AutoModelForCausalLM.from_pretrained(
            llm_dir, dtype=torch.float32, local_files_only=True
        )
    report = train_causal_lm(model, sequences, **train_opts)
    with quiet_loading():
        model.save_pretrained(llm_dir)
    write_text(Path(llm_dir) / "text_pretraining.json", json.dumps(report, indent=1) + "\n")
    return report
