#!/usr/bin/env python3
"""Encoder cost follows the audio length, not Whisper's fixed 30 s window.

Times a Whisper-base-sized encoder (random weights, 512 wide, 6 blocks, 8 heads) on
5 s and on 30 s of log-mel input and prints JSON. Target: time(30 s) / time(5 s) >= 4.

    python bench/encoder_length.py [--device cpu] [--repeats 5]
"""

import argparse
import json
import platform
import time

import torch

from osum.model.encoder import WhisperEncoder

BASE = dict(n_mels=80, n_state=512, n_head=8, n_layer=6)
FRAMES_PER_SECOND = 100


def best_time(encoder, seconds, device, repeats):
    frames = seconds * FRAMES_PER_SECOND
    x = torch.randn(1, frames, 80, device=device)
    lengths = torch.tensor([frames], device=device)
    times = []
    with torch.inference_mode():
        encoder(x, lengths)  # warm-up
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            encoder(x, lengths)
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    encoder = WhisperEncoder(**BASE).eval().to(args.device)
    t5 = best_time(encoder, 5, args.device, args.repeats)
    t30 = best_time(encoder, 30, args.device, args.repeats)
    print(
        json.dumps(
            {
                "benchmark": "encoder_length",
                "encoder": "whisper-base-sized (512 x 6, random weights)",
                "device": args.device
                if args.device != "cpu"
                else f"cpu ({torch.get_num_threads()} threads)",
                "host": platform.node(),
                "seconds_5s_input": round(t5, 4),
                "seconds_30s_input": round(t30, 4),
                "ratio_30s_over_5s": round(t30 / t5, 2),
                "target_ratio_min": 4.0,
                "pass": t30 / t5 >= 4.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
