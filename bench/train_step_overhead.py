#!/usr/bin/env python3
"""Overhead of a training step through ESPnet vs the bare model on the same batches.

ESPnet side: OSUMTask builds the model, the optimizer and the length-sorted iterator
(data loading from wav.scp/text, the preprocess function, collate), and
``Trainer.train_one_epoch`` runs the epoch (reporter, gradient clipping, step).
Bare side: the same collated batches, held in memory, through zero_grad, forward,
backward and optimizer step. Target: overhead <= 15 %.

    python bench/train_step_overhead.py [--epochs 3] [--workdir DIR]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch
from espnet2.train.distributed_utils import DistributedOption, resolve_distributed_mode
from espnet2.train.reporter import Reporter
from espnet2.train.trainer import Trainer
from espnet2.utils.build_dataclass import build_dataclass

import osum.train.espnet_shims  # noqa: F401, I001
from osum.dev.tiny_models import build_qwen2, build_whisper
from osum.dev.tiny_setup import train_command, write_config
from osum.train.task import OSUMTask

N_UTTS, BATCH = 32, 8


def make_data(root: Path, seed: int = 0):
    rng = np.random.default_rng(seed)
    data = root / "data"
    (data / "wav").mkdir(parents=True)
    words = ["one", "two", "three", "light", "door", "open", "close", "music"]
    with (
        open(data / "wav.scp", "w") as w,
        open(data / "text", "w") as t,
        open(data / "speech_shape", "w") as s,
    ):
        for i in range(N_UTTS):
            n = int(rng.uniform(2.0, 5.0) * 16000)
            path = data / "wav" / f"u{i:03d}.wav"
            soundfile.write(path, (0.1 * rng.standard_normal(n)).astype(np.float32), 16000)
            w.write(f"spk-u{i:03d} {path}\n")
            t.write(f"spk-u{i:03d} {' '.join(rng.choice(words, 6))}\n")
            s.write(f"spk-u{i:03d} {n}\n")
    return data


def build(root: Path, data: Path):
    llm = build_qwen2(str(root / "qwen2"), hidden_size=256, num_layers=4, intermediate_size=512)
    whisper = build_whisper(str(root / "whisper"), d_model=256, layers=4)
    config = dict(
        encoder_conf=dict(init=str(whisper)),
        speech_adapter_conf=dict(attention_heads=4, linear_units=512, num_blocks=2),
        llm_conf=dict(path=str(llm), lora=True),
        model_conf=dict(trainable=["adapter", "encoder", "lora"]),
        optim="adamw",
        optim_conf=dict(lr=1e-4),
        batch_type="sorted",
        batch_size=BATCH,
        num_workers=0,
        grad_clip=5.0,
    )
    cfg = write_config(root / "train.yaml", config)
    cmd = train_command(cfg, data, root / "exp")[3:]
    args = OSUMTask.get_parser().parse_args(cmd)
    resolve_distributed_mode(args)
    dist = build_dataclass(DistributedOption, args)
    dist.init_options()
    torch.manual_seed(0)
    model = OSUMTask.build_model(args)
    optimizers = OSUMTask.build_optimizers(args, model)
    iter_factory = OSUMTask.build_iter_factory(args, dist, mode="train")
    return args, dist, model, optimizers, iter_factory


def espnet_epoch(args, dist, model, optimizers, iter_factory, epoch):
    options = Trainer.build_options(args)
    reporter = Reporter()
    model.train()
    start = time.perf_counter()
    with reporter.observe("train", epoch) as sub:
        Trainer.train_one_epoch(
            model=model,
            iterator=iter_factory.build_iter(epoch),
            optimizers=optimizers,
            schedulers=[None],
            scaler=None,
            reporter=sub,
            summary_writer=None,
            options=options,
            distributed_option=dist,
        )
    return time.perf_counter() - start


def bare_epoch(model, optimizer, batches):
    model.train()
    start = time.perf_counter()
    for batch in batches:
        optimizer.zero_grad()
        loss = model(**batch)[0]
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workdir", default=None)
    args_cli = parser.parse_args()
    root = Path(args_cli.workdir or tempfile.mkdtemp(prefix="osum_bench_"))
    data = make_data(root)
    args, dist, model, optimizers, iter_factory = build(root, data)
    batches = [b for _, b in iter_factory.build_iter(1)]
    espnet_epoch(args, dist, model, optimizers, iter_factory, 1)  # warm-up
    bare_epoch(model, optimizers[0], batches)
    t_espnet, t_bare = [], []
    for epoch in range(2, 2 + args_cli.epochs):  # interleaved, best of each
        t_espnet.append(espnet_epoch(args, dist, model, optimizers, iter_factory, epoch))
        t_bare.append(bare_epoch(model, optimizers[0], batches))
    te, tb = min(t_espnet), min(t_bare)
    steps = len(batches)
    print(
        json.dumps(
            {
                "benchmark": "train_step_overhead",
                "model": "whisper 256x4 + adapter 2 blocks + qwen2 256x4 with LoRA (random weights)",
                "device": f"cpu ({torch.get_num_threads()} threads)",
                "utterances": N_UTTS,
                "batch_size": BATCH,
                "steps_per_epoch": steps,
                "espnet_seconds_per_step": round(te / steps, 4),
                "bare_seconds_per_step": round(tb / steps, 4),
                "overhead_percent": round(100 * (te / tb - 1), 1),
                "target_overhead_percent_max": 15.0,
                "pass": te / tb - 1 <= 0.15,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
