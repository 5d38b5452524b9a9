#!/usr/bin/env python3
"""Make a phase trained by another recipe a finished phase of this one, for decoding.

    python -m osum.bin.link_model --model_dir ../../librispeech/osum1/exp/osum/3_lora \\
        --model_file valid.acc.ave.pth --out exp/eval/model

Writes ``<out>/config.yaml`` (the phase's config with its relative model and tokenizer
paths made absolute: they are relative to the recipe the phase comes from,
``<recipe>/exp/<tag>/<phase>``), links ``<out>/<model_file>`` to the checkpoint and
touches ``<out>/.done``, so osum.sh's stages 4-5 decode it as the last phase.
"""

import argparse
import os
import sys
from pathlib import Path

import yaml

from osum.cli import run
from osum.files import atomic_open, atomic_path, write_text


def link_model(model_dir, model_file: str, out) -> Path:
    """Each file of ``out`` appears whole (a link replaced at once), ``.done`` last."""
    src, out = Path(model_dir).resolve(), Path(out)
    for need, what in (("config.yaml", "the phase's config"), (model_file, "--model_file")):
        if not (src / need).is_file():
            raise FileNotFoundError(f"{src}: no {need} ({what}); expected a training phase's dir")
    from osum.train.task import resolve_paths  # loads ESPnet: once the phase is there

    conf = yaml.safe_load((src / "config.yaml").read_text(encoding="utf-8"))
    resolve_paths(conf, src.parents[2])
    out.mkdir(parents=True, exist_ok=True)
    (out / ".done").unlink(missing_ok=True)
    with atomic_open(out / "config.yaml") as f:
        yaml.safe_dump(conf, f, allow_unicode=True, sort_keys=False)
    with atomic_path(out / model_file) as tmp:
        os.symlink(src / model_file, tmp)
    write_text(out / ".done", "")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model_dir", required=True, help="a training phase's dir")
    parser.add_argument("--model_file", default="valid.acc.ave.pth", help="its checkpoint")
    parser.add_argument("--out", required=True, help="the phase dir to write")
    args = parser.parse_args(argv)
    try:
        link_model(args.model_dir, args.model_file, args.out)
    except (OSError, yaml.YAMLError) as e:
        sys.exit(f"link_model: {e}")


if __name__ == "__main__":
    run(main)
