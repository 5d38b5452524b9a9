"""Write a trained model as a self-contained dir that ``Speech2Text(dir)`` loads.

    python -m osum.bin.export_model --train_config exp/osum/3_all/config.yaml \\
        --model_file exp/osum/3_all/valid.acc.ave.pth --out exported/osum [--merge_lora]

The dir holds ``config.yaml`` (paths relative to it), ``model.safetensors`` and ``llm/``
(the LLM and its tokenizer; with ``--merge_lora`` LoRA merged into its weights, for
serving). See :mod:`osum.convert.export`.
"""

import argparse
import json
import logging

from osum.cli import run
from osum.convert.export import export_model


def main(cmd=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train_config", required=True)
    parser.add_argument("--model_file", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--merge_lora", action="store_true")
    parser.add_argument("--log_level", default="INFO")
    args = parser.parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(levelname)s: %(message)s")
    report = export_model(args.train_config, args.model_file, args.out, args.merge_lora)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    run(main)
