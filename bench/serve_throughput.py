#!/usr/bin/env python3
"""The server with batching on and off: requests/s, audio seconds/s, p50/p99 latency.

The same server (``python -m osum.bin.serve``, on 127.0.0.1) is started twice, with
``--batching true`` (requests join the running batch at a decoding step) and ``--batching
false`` (one request at a time). At each concurrency level, that many clients send the
same list of requests (``POST /v1/chat/completions`` with base64 wav and an OSUM ``task``)
until it is done: short (1-4 s) and long (12-45 s, over 30 s decoded in chunks) audio,
the eight tasks in turn. Every answer is compared with the first run's answer to the same
request: batching must not change a token.

The model is the mini recipe's size (random weights whose hypotheses end after some
tokens: ``osum.dev.tiny_setup.serving_model``) unless ``--model`` names one. Goal on 2
CPU cores: at concurrency 16, at least 3 times the requests/s of batching off, p99
latency under 2 times batching off's, every answer identical.

    python bench/serve_throughput.py [--model DIR] [--concurrency 1 4 16 64]
"""

import argparse
import base64
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "test" / "serve"))
from conftest import running_server  # noqa: E402 - the tests' way to start a server

TASKS = ["ASR", "SER", "SRWT", "STTC", "SGC", "AGE_GENDER", "SAP", "VED"]


def make_requests(n: int, seed: int = 0):
    """``n`` requests: (task, JSON body, seconds of audio); one in four long. The bodies
    are made before the clock starts: the load generator shares the server's CPU."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        seconds = rng.uniform(12, 45) if i % 4 == 3 else rng.uniform(1, 4)
        audio = (0.1 * rng.standard_normal(int(seconds * 16000))).astype("float32")
        buf = io.BytesIO()
        soundfile.write(buf, audio, 16000, format="WAV", subtype="PCM_16")
        task = TASKS[i % len(TASKS)]
        out.append((task, chat_body(task, buf.getvalue()), seconds))
    return out


def chat_body(task: str, wav: bytes) -> bytes:
    part = {
        "type": "input_audio",
        "input_audio": {"data": base64.b64encode(wav).decode(), "format": "wav"},
    }
    body = {"model": "osum", "task": task, "messages": [{"role": "user", "content": [part]}]}
    return json.dumps(body).encode()


def ask(session: requests.Session, url: str, body: bytes):
    start = time.perf_counter()
    r = session.post(
        f"{url}/v1/chat/completions",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=600,
    )
    r.raise_for_status()
    return time.perf_counter() - start, r.json()["osum"]["text"]


def level(url: str, reqs, concurrency: int):
    """All of ``reqs`` sent by ``concurrency`` clients; figures and answers."""
    local = threading.local()

    def one(req):
        if not hasattr(local, "session"):  # a connection a client, kept alive
            local.session = requests.Session()
        return ask(local.session, url, req[1])

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        got = list(pool.map(one, reqs))
    wall = time.perf_counter() - start
    lat = sorted(t for t, _ in got)
    return {
        "requests": len(reqs),
        "seconds": round(wall, 2),
        "requests_per_s": round(len(reqs) / wall, 3),
        "audio_s_per_s": round(sum(r[2] for r in reqs) / wall, 2),
        "p50_s": round(statistics.median(lat), 3),
        "p99_s": round(lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))], 3),
    }, [text for _, text in got]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="an export dir (default: a tiny one)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--requests", type=int, default=32, help="at least, each level")
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--max_rows", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    if args.model is None:
        from osum.dev.tiny_setup import serving_model

        args.model = serving_model(Path(tempfile.mkdtemp(prefix="osum_serve_bench_")), mini=True)
    common = ["--max_new_tokens", args.max_new_tokens, "--max_rows", args.max_rows]
    common += ["--device", args.device, "--max_queue", 1024]
    reference, figures = {}, {}
    same = True
    for batching in ("true", "false"):
        with running_server(args.model, *common, "--batching", batching) as url:
            level(url, make_requests(8, seed=99), 4)  # warm-up: every task, short and long
            for c in args.concurrency:
                reqs = make_requests(max(args.requests, 2 * c))
                fig, texts = level(url, reqs, c)
                for i, text in enumerate(texts):
                    same &= reference.setdefault(i, text) == text
                figures.setdefault(f"concurrency_{c}", {})[f"batching_{batching}"] = fig
                print(f"batching {batching}, concurrency {c}: {fig}", file=sys.stderr)
    for fig in figures.values():
        on, off = fig["batching_true"], fig["batching_false"]
        fig["throughput_ratio"] = round(on["requests_per_s"] / off["requests_per_s"], 2)
        fig["p99_ratio"] = round(on["p99_s"] / off["p99_s"], 2)
    goal = figures.get("concurrency_16")
    print(
        json.dumps(
            {
                "benchmark": "serve_throughput",
                "machine": machine() if args.device == "cpu" else args.device,
                "model": str(args.model),
                "max_new_tokens": args.max_new_tokens,
                "max_rows": args.max_rows,
                "every_answer_identical": same,
                "levels": figures,
                "goal": "concurrency 16: throughput_ratio >= 3, p99_ratio < 2, identical",
                "pass": bool(
                    same and goal and goal["throughput_ratio"] >= 3 and goal["p99_ratio"] < 2
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
