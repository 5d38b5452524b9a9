#!/usr/bin/env python3
"""Decode a data dir with a trained OSUM model (batched, resumable), ESPnet style.

    python -m osum.bin.osum_inference --train_config exp/osum/config.yaml \\
        --model_file exp/osum/valid.acc.ave.pth \\
        --data_path_and_name_and_type data/test/wav.scp,speech,sound \\
        --data_path_and_name_and_type data/test/utt2taskinfo,task,text \\
        --output_dir exp/osum/decode_test --batch_size 16 --ngpu 1

``--config conf/decode_osum.yaml`` reads options from a YAML file (ESPnet's inference
config; options given on the command line win). The task of each utterance comes from the
``task`` data (utt2taskinfo or utt2task),
or from ``--task`` for all; without either it is ASR. ``--job N`` (osum.sh passes its
decoding job's number) puts job N on the ((N - 1) mod visible)-th visible GPU, so the jobs
of one machine spread over its GPUs; a scheduler that shows each job one GPU gives cuda:0.
"""

import argparse
import logging

import torch
from espnet2.utils.config_argparse import ArgumentParser

from osum.cli import (
    add_search_options,
    non_negative_int,
    positive_int,
    run,
    search_options,
)
from osum.decode.data_dir import decode_data
from osum.decode.speech2text import Speech2Text


def get_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--train_config", required=True)
    parser.add_argument("--model_file", default=None)
    parser.add_argument(
        "--data_path_and_name_and_type",
        action="append",
        required=True,
        type=lambda s: tuple(s.split(",")),
        help="PATH,NAME,TYPE",
    )
    parser.add_argument("--key_file", default=None, help="decode only these utterances")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--task", default=None, help="one task for every utterance")
    parser.add_argument("--ngpu", type=non_negative_int, default=0)
    parser.add_argument(
        "--job", type=positive_int, default=None, help="decoding job (1-based): its GPU"
    )
    parser.add_argument("--batch_size", type=positive_int, default=8)
    add_search_options(parser)
    parser.add_argument("--log_level", default="INFO")
    return parser


def decode_device(ngpu: int, job: int | None, visible: int | None = None) -> str:
    """cpu, or the GPU of decoding job ``job`` (1-based): the jobs take the ``visible``
    GPUs in turn."""
    if ngpu <= 0:
        return "cpu"
    visible = torch.cuda.device_count() if visible is None else visible
    if visible == 0:
        raise SystemExit("osum_inference: --ngpu 1 but no CUDA device is visible")
    return "cuda" if job is None else f"cuda:{(job - 1) % visible}"


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )
    s2t = Speech2Text(
        args.train_config,
        args.model_file,
        device=decode_device(args.ngpu, args.job),
        batch_size=args.batch_size,
        **search_options(args),
    )
    out = decode_data(
        s2t, args.data_path_and_name_and_type, args.output_dir, args.key_file, args.task
    )
    logging.info(f"results in {out}")


if __name__ == "__main__":
    run(main)
