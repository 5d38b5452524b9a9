#!/usr/bin/env python3
"""Synthesise the mini_osum corpus and its tiny random-weight Whisper and Qwen2 models.

python -m osum.bin.mini_corpus --data data --models models --train 60 --dev 10 --test 10
"""

import argparse
import json
import random

from osum.mini_corpus import make_corpus, sentences
from osum.smoke import make_models


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--data", default="data")
    parser.add_argument("--models", default="models")
    parser.add_argument("--train", type=int, default=60, help="sentences (2 voices each)")
    parser.add_argument("--dev", type=int, default=10)
    parser.add_argument("--test", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(cmd)
    counts = make_corpus(
        args.data, {"train": args.train, "dev": args.dev, "test": args.test}, args.seed
    )
    corpus = [t for _, t in sentences(random.Random(args.seed))]
    models = make_models(args.models, corpus)
    print(json.dumps({"utterances": counts, "models": models}))


if __name__ == "__main__":
    main()
