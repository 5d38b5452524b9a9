#!/usr/bin/env python3
"""Stage 2: dump a data dir as 16 kHz wav (raw) or Whisper log-mel (whisper_mel) arks.

    python -m osum.bin.dump --feats_type whisper_mel [--compress 2byte] [--nj 4 --job 2] \
        data/train dump/whisper_mel/train
    python -m osum.bin.dump --merge --nj 4 data/train dump/whisper_mel/train

Skipped utterances (missing, unreadable, empty or too long audio) are listed with the
reason in <out>/skipped.
"""

import argparse
import json

from osum.cli import positive_int, run
from osum.data.dump import COMPRESSION, dump, merge


def main(cmd=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--feats_type", default="raw", choices=["raw", "whisper_mel"])
    parser.add_argument("--n_mels", type=int, default=80, choices=[80, 128])
    parser.add_argument("--max_seconds", type=float, default=30.0, help="0: no limit")
    parser.add_argument(
        "--compress", default="none", choices=list(COMPRESSION),
        help="whisper_mel: float32 (none), or Kaldi's compressed matrices: 2byte (half the "
        "size, within 2e-5) or 1byte (a quarter, within about 0.01)",
    )  # fmt: skip
    parser.add_argument("--nj", type=positive_int, default=1)
    parser.add_argument("--job", type=positive_int, default=1, help="1-based job index")
    parser.add_argument("--merge", action="store_true", help="join the nj jobs' parts")
    parser.add_argument("data_dir")
    parser.add_argument("out_dir")
    args = parser.parse_args(cmd)
    if args.job > args.nj:
        parser.error(f"--job {args.job} is not one of --nj {args.nj} jobs")
    if args.merge:
        counts = merge(args.out_dir, args.nj)
    else:
        counts = dump(
            args.data_dir,
            args.out_dir,
            args.feats_type,
            args.n_mels,
            args.max_seconds,
            args.nj,
            args.job,
            args.compress,
        )
    print(json.dumps(counts))


if __name__ == "__main__":
    run(main, output=-1)
