#!/usr/bin/env python3
"""Train the LLM of a trained OSUM model on a data dir's text, between two speech phases.

python -m osum.bin.llm_text_train --config conf/text_answers.yaml \\
    --init_model exp/osum/2_llm/valid.loss.ave.pth --train_config exp/osum/2_llm/config.yaml \\
    --data_dir data/train --output_dir exp/osum/2t_answers

The LLM is built as the model builds it (``llm_conf`` of ``--train_config``: its path,
LoRA or not), given the LLM weights of ``--init_model``, and trained on the targets the
text alone determines (:func:`osum.dev.tiny_models.text_targets`: transcripts, and a chat task's
question, marker and answer), with LoRA only its adapters. The model file is written
back whole, the LLM's weights replaced, as ``<output_dir>/<--model_file>`` with the
config beside it, so the next phase starts from it (osum.sh: a ``--train_phases`` entry
whose config has ``llm_text_training:``). The report (losses, time) is
``<output_dir>/text_training.json``.

The config: ``llm_text_training: {tasks: [STTC], epochs: 40, batch_size: 16, lr: 2.0e-3,
warmup_steps: 50, seed: 0, answers_only: false}`` (all optional; tasks: all).
``answers_only: true`` keeps the chat tasks' sequences alone and puts the loss on their
answers only (:func:`osum.dev.tiny_models.answer_context`): the LLM learns what to answer to a
question without learning the training questions by heart, a prior that would outweigh
what the audio says when it transcribes a new one.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

import yaml

KEYS = {"tasks", "epochs", "batch_size", "lr", "warmup_steps", "seed", "answers_only"}


def train(
    config: dict,
    init_model: str,
    train_config: str,
    data_dir: str,
    output_dir: str,
    model_file: str,
) -> dict:
    import torch

    from osum.asrx.registry import build_registry
    from osum.dev.tiny_models import answer_context, text_targets, train_causal_lm
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
    torch.save(state, out / model_file)
    shutil.copy(train_config, out / "config.yaml")
    report.update(init_model=str(init_model), data_dir=str(data_dir))
    (out / "text_training.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--config", required=True, help="YAML with llm_text_training:")
    parser.add_argument("--init_model", required=True, help="the previous phase's model file")
    parser.add_argument("--train_config", required=True, help="the previous phase's config.yaml")
    parser.add_argument("--data_dir", required=True, help="data dir whose text is learnt")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument(
        "--model_file", default="valid.loss.ave.pth", help="name of the written model"
    )
    args = parser.parse_args(cmd)
    try:
        with open(args.config, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
        if "llm_text_training" not in config:
            raise ValueError(f"{args.config}: no llm_text_training: section")
        report = train(
            config,
            args.init_model,
            args.train_config,
            args.data_dir,
            args.output_dir,
            args.model_file,
        )
    except (OSError, ValueError, KeyError, yaml.YAMLError) as e:
        sys.exit(f"llm_text_train: {e}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
