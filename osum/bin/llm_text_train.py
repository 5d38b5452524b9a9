#!/usr/bin/env python3
"""Train the LLM of a trained OSUM model on a data dir's text, between two speech phases.

python -m osum.bin.llm_text_train --config conf/text_answers.yaml \\
    --init_model exp/osum/2_llm/valid.loss.ave.pth --train_config exp/osum/2_llm/config.yaml \\
    --data_dir data/train --output_dir exp/osum/2t_answers

writes ``<output_dir>/<--model_file>``, its config and ``text_training.json``; see
:mod:`osum.train.llm_text`.
"""

import argparse
import json
import sys

import yaml

from osum.cli import run
from osum.train.llm_text import train_phase


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
        report = train_phase(
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
    run(main)
