#!/usr/bin/env python3
"""Synthesise the mini_osum corpus and its tiny random-weight Whisper and Qwen2 models.

python -m osum.bin.mini_corpus --data data --models models --train 300 --dev 30 --test 60

Sizes are utterances per task and split (eight tasks). The models are written with
``save_pretrained`` (random weights; the tokenizer is a byte-level BPE trained on the
corpus' text, with Qwen2's special tokens and single-digit numbers). With
``--llm_text_epochs N`` the LLM is then trained on the training split's text (its
transcripts, and STTC's questions with their answers) for N epochs and saved again: the
recipe's stand-in for the LLM's pretraining (``osum.train.llm_text.pretrain_llm_on_text``).
"""

import argparse
import json
from pathlib import Path

from osum.cli import non_negative_int, positive_float, positive_int, run
from osum.data.synthetic import corpus_text, make_corpus
from osum.dev.tiny_models import add_size_options, build_tiny_models, size_options
from osum.train.llm_text import pretrain_llm_on_text, text_targets


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data", default="data")
    parser.add_argument("--models", default="models")
    parser.add_argument("--train", type=non_negative_int, default=300, help="utterances per task")
    parser.add_argument("--dev", type=non_negative_int, default=30)
    parser.add_argument("--test", type=non_negative_int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nj", type=positive_int, default=2, help="synthesis processes")
    add_size_options(parser)
    parser.add_argument(
        "--time_tokens",
        type=non_negative_int,
        default=None,
        help="one token per SRWT time with this many decimals (the SRWT task's time_decimals)",
    )
    parser.add_argument(
        "--llm_text_epochs", type=non_negative_int, default=0,
        help="epochs of training the LLM on the training split's text (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--llm_text_tasks", nargs="*", default=[],
        help="tasks whose training text the LLM learns (default: all; STTC: its questions and answers)",
    )  # fmt: skip
    parser.add_argument(
        "--llm_text_batch", type=positive_int, default=16, help="sequences per step"
    )
    parser.add_argument(
        "--llm_text_lr", type=positive_float, default=2e-3, help="peak learning rate"
    )
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    counts = make_corpus(
        args.data,
        {"train": args.train, "dev": args.dev, "test": args.test},
        args.seed,
        nj=args.nj,
    )
    llm, whisper = build_tiny_models(
        args.models,
        corpus_text(args.seed),
        **size_options(args),
        seed=args.seed,
        time_tokens=args.time_tokens,
    )
    report = {"utterances": counts, "models": {"llm": str(llm), "whisper": str(whisper)}}
    if args.llm_text_epochs > 0:
        report["llm_text_pretraining"] = pretrain_llm_on_text(
            str(llm),
            text_targets(f"{args.data}/train", str(llm), tasks=args.llm_text_tasks or None),
            epochs=args.llm_text_epochs,
            batch_size=args.llm_text_batch,
            lr=args.llm_text_lr,
            seed=args.seed,
        )
    # the models are complete: a recipe's --tiny run (osum.sh --tiny_models) uses them
    Path(args.models, ".done").touch()  # not atomic: an empty marker is whole once it exists
    print(json.dumps(report))


if __name__ == "__main__":
    run(main)
