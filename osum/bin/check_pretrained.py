#!/usr/bin/env python3
"""Check the pretrained models a recipe names before it trains (osum.sh's stage 3).

    python -m osum.bin.check_pretrained [--encoder_init DIR_OR_PT] [--llm_path DIR]

Each problem is one line naming the option, the path and what was expected; exit status 1.
"""

import argparse
import sys

from osum.cli import run
from osum.model.pretrained import check_pretrained


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder_init", default=None, help="HF Whisper dir or openai .pt")
    parser.add_argument("--llm_path", default=None, help="HF causal LM dir with its tokenizer")
    args = parser.parse_args(cmd)
    errors = check_pretrained(args.encoder_init, args.llm_path)
    for line in errors:
        print(f"check_pretrained: {line}", file=sys.stderr)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    run(main)
