#!/usr/bin/env python3
"""Decode audio files with a trained OSUM model: one JSON line per file, in order.

    python -m osum.bin.decode_files --model exp/osum/export a.wav b.flac c.mp4 \\
        --task SER [--out results.jsonl] [--batch_size 8 --device cuda]

``--model``: a dir written by ``osum.bin.export_model``, or an experiment's config.yaml
(with ``--model_file`` for its checkpoint). Any file soundfile or ffmpeg reads is
decoded, a file whatever its name (one ending in ``|`` is never run as a command); each
line is ``{"file", "task", "text" (raw), "transcript", "labels", "words": [{"word",
"start", "end"}], "answer", "flags", "duration"}``. A file that is missing, unreadable,
too short or whose decoding fails (files decoded together that fail, out of memory say,
are decoded again one at a time) is named on stderr and the others are decoded; the exit
status is then 1. ``--out`` is written whole at the end (its records kept through such
failures); Ctrl-C ends the run and leaves no ``--out``. ``--config decode.yaml`` reads
the decoding options from a YAML file (options on the command line win), as
``osum_inference``.
"""

import argparse
import errno
import json
import logging
import os
import sys
from contextlib import nullcontext

from espnet2.utils.config_argparse import ArgumentParser
from tqdm import tqdm

from osum.asrx.registry import TASKS
from osum.cli import add_search_options, positive_int, run, search_options
from osum.files import atomic_open
from osum.progress import progress

NAME = "decode_files"


def task_name(text: str) -> str:
    if text not in TASKS:
        raise argparse.ArgumentTypeError(f"unknown task {text!r}; known: {', '.join(TASKS)}")
    return text


def get_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("files", nargs="+", help="audio files (wav, flac, mp3, mp4 ...)")
    parser.add_argument("--model", required=True, help="export dir or training config.yaml")
    parser.add_argument("--model_file", default=None, help="checkpoint of a training config")
    parser.add_argument("--task", type=task_name, default="ASR")
    parser.add_argument("--question", default=None, help="a question after the prompt (STTC)")
    parser.add_argument("--out", default=None, help="JSON lines file (default: stdout)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if any)")
    parser.add_argument("--batch_size", type=positive_int, default=8)
    add_search_options(parser)
    parser.add_argument("--log_level", default="WARNING")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format=f"{NAME}: %(levelname)s: %(message)s")
    out_dir = os.path.dirname(os.path.abspath(args.out)) if args.out else None
    for path in (args.model, args.model_file, out_dir):
        if path is not None and not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    # a missing file is named now, before the model loads; the others are still decoded
    files = [f for f in args.files if os.path.isfile(f)]
    failed = len(args.files) - len(files)
    for f in args.files:
        if not os.path.isfile(f):
            why = "is not a file" if os.path.exists(f) else os.strerror(errno.ENOENT)
            print(f"{NAME}: {f}: {why}", file=sys.stderr)
    if files:
        failed += decode(args, files)
    if failed:
        if len(args.files) > 1:
            print(f"{NAME}: {failed} of {len(args.files)} files not decoded", file=sys.stderr)
        sys.exit(1)


def decode(args: argparse.Namespace, files: list) -> int:
    """Decode ``files`` into ``--out`` (or stdout); returns how many failed."""
    import torch  # loads in seconds: once the options and files are checked

    from osum.decode.files import decode_files
    from osum.decode.speech2text import Speech2Text

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    s2t = Speech2Text(
        args.model,
        args.model_file,
        device=device,
        batch_size=args.batch_size,
        **search_options(args),
    )
    failed = 0
    many = len(files) > 1  # a progress bar for more than one file
    with (
        atomic_open(args.out) if args.out else nullcontext(sys.stdout) as out,
        progress(len(files), "decoding", unit="file") if many else nullcontext() as bar,
    ):
        for done in decode_files(s2t, files, args.task, args.question):
            if done.error is not None:
                failed += 1
                tqdm.write(f"{NAME}: {done.path}: {done.error}", file=sys.stderr)
            else:
                out.write(json.dumps(done.record, ensure_ascii=False) + "\n")
                out.flush()
            if bar is not None:
                bar.update(1)
    return failed


if __name__ == "__main__":
    run(main)
