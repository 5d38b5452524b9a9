"""Convert an OSUM checkpoint (the released ``infer.pt``, or one its training wrote) into
this project's model.

    python -m osum.bin.import_osum --checkpoint infer.pt --llm /path/to/Qwen2-7B-Instruct \\
        --out exp/osum_released [--merge_lora]

``--checkpoint`` takes a state dict (``infer.pt``, a DDP ``<tag>.pt``), DeepSpeed's fp32
``<tag>.pt`` or its ``<tag>/mp_rank_00_model_states.pt`` (or that dir). It writes
``config.yaml`` and ``model.pth`` in ``--out`` and prints a report (what was checked and
dropped, what was ignored); ``Speech2Text`` and the recipes'
stages 4-5 (``--exp_tag``, ``--decode_model``) load them, and ``--init_model`` starts
training from them. See :mod:`osum.convert.import_osum` for the key mapping.
"""

import argparse
import json
import logging

from osum.cli import positive_int, run
from osum.convert.import_osum import CheckpointMismatch, import_osum


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--checkpoint", required=True, help="infer.pt, <tag>.pt, or a DeepSpeed checkpoint dir"
    )
    parser.add_argument("--llm", required=True, help="the HF dir of the LLM OSUM was built on")
    parser.add_argument("--out", required=True, help="output dir")
    parser.add_argument("--merge_lora", action="store_true", help="merge LoRA into the LLM weights")
    parser.add_argument("--lora_alpha", type=positive_int, default=32, help="OSUM's LoRA alpha")
    parser.add_argument(
        "--encoder_heads", type=positive_int, default=None, help="default: width / 64, as Whisper"
    )
    parser.add_argument(
        "--adapter_heads", type=positive_int, default=4, help="OSUM's adapter heads"
    )
    parser.add_argument(
        "--style_labels",
        choices=["zh", "en"],
        default="zh",
        help="SSR's label set: zh, the labels OSUM's SSR prompt asks for; en, the registry's",
    )
    parser.add_argument(
        "--llm_dtype",
        choices=["float32", "bfloat16", "float16"],
        default=None,
        help="the LLM's dtype (default: the checkpoint's LLM weights'; the LLM dir's where "
        "those are float32 and the dir's are not)",
    )
    parser.add_argument("--log_level", default="INFO")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(levelname)s: %(message)s")
    try:
        report = import_osum(
            args.checkpoint,
            args.llm,
            args.out,
            merge_lora=args.merge_lora,
            encoder_heads=args.encoder_heads,
            adapter_heads=args.adapter_heads,
            lora_alpha=args.lora_alpha,
            style_labels=args.style_labels,
            llm_dtype=args.llm_dtype,
        )
    except (CheckpointMismatch, FileNotFoundError) as e:  # the user's input, named
        raise SystemExit(f"import_osum: {e}") from None
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    run(main)
