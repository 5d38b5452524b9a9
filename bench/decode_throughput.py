#!/usr/bin/env python3
"""Batched decoding vs one-at-a-time HF ``generate``: throughput and real-time factor.

A small random-weight model (Whisper-style encoder 256 x 4, adapter, Qwen2 256 x 4;
a few million parameters each), 64 utterances of 2-10 s. Both sides decode greedily the
same spliced inputs; the end token's output row is zeroed so every utterance runs to
``--max_new_tokens`` and both sides do the same work. Ours: ``OSUMModel.decode`` with
batches of ``--batch_size`` utterances of similar length (KV cache, left padding).
Reference: per utterance, the encoder and ``llm.generate(inputs_embeds=...)`` as OSUM's
inference does. Target on CPU: speed-up >= 5.

    python bench/decode_throughput.py [--device cpu] [--batch_size 16] [--utts 64]
"""

import argparse
import json
import tempfile
import time

import torch

from osum.decode.search import DecodeOptions, decode_speech
from osum.dev.tiny_models import build_qwen2
from osum.model.adapter import OSUMAdapter
from osum.model.encoder import WhisperEncoder
from osum.model.espnet_model import OSUMModel
from osum.model.frontend import WhisperFrontend
from osum.model.llm import build_llm


def build(device, sizes):
    root = tempfile.mkdtemp(prefix="osum_bench_")
    llm_dir = build_qwen2(
        f"{root}/qwen2",
        hidden_size=sizes["llm"],
        num_layers=sizes["llm_layers"],
        intermediate_size=sizes["llm_ffn"],
        num_heads=sizes["llm_heads"],
        num_kv_heads=sizes["llm_kv_heads"],
        model_vocab_size=sizes["vocab"],
    )
    torch.manual_seed(0)
    llm = build_llm(str(llm_dir), lora=False)
    model = (
        OSUMModel(
            frontend=WhisperFrontend(),
            specaug=None,
            encoder=WhisperEncoder(
                n_state=sizes["enc"], n_head=sizes["enc_heads"], n_layer=sizes["enc_layers"]
            ),
            adapter=OSUMAdapter(
                sizes["enc"], sizes["llm"], linear_units=2 * sizes["enc"], num_blocks=2
            ),
            llm=llm,
            trainable=(),
        )
        .eval()
        .to(device)
    )
    return model


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.no_grad()
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--utts", type=int, default=64)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument(
        "--size",
        choices=["small", "medium_0.5b"],
        default="small",
        help="medium_0.5b: a Whisper-medium-sized encoder and a Qwen2-0.5B-sized LLM (GPU)",
    )
    args = parser.parse_args()
    sizes = dict(
        enc=256,
        enc_layers=4,
        enc_heads=4,
        llm=256,
        llm_layers=4,
        llm_heads=4,
        llm_kv_heads=1,
        llm_ffn=1024,
        vocab=None,
    )
    if args.size == "medium_0.5b":  # Whisper-medium encoder, Qwen2-0.5B shapes and vocabulary
        sizes = dict(
            enc=1024,
            enc_layers=24,
            enc_heads=16,
            llm=896,
            llm_layers=24,
            llm_heads=14,
            llm_kv_heads=2,
            llm_ffn=4864,
            vocab=151936,
        )
    dev = args.device
    model = build(dev, sizes)
    end_id = 0
    head = model.llm.get_output_embeddings().weight
    head[end_id].zero_()
    g = torch.Generator().manual_seed(0)
    secs = [2 + 8 * torch.rand(1, generator=g).item() for _ in range(args.utts)]
    waves = [0.1 * torch.randn(int(s * 16000), generator=g) for s in secs]
    prompt = torch.randint(3, 300, (12,), generator=g)
    opts = DecodeOptions(max_new_tokens=args.max_new_tokens)

    def ours():
        order = sorted(range(len(waves)), key=lambda i: -len(waves[i]))
        outs = [None] * len(waves)
        for s in range(0, len(order), args.batch_size):
            idx = order[s : s + args.batch_size]
            speech = torch.nn.utils.rnn.pad_sequence([waves[i] for i in idx], batch_first=True)
            n = len(idx)
            res = decode_speech(
                model,
                speech.to(dev),
                torch.tensor([len(waves[i]) for i in idx], device=dev),
                prompt.expand(n, -1).to(dev),
                torch.full((n,), len(prompt), device=dev),
                end_id=end_id,
                options=opts,
            )
            for i, r in zip(idx, res):
                outs[i] = r[0].tokens
        return outs

    def reference():
        outs = []
        for w in waves:
            emb, lens = model.encode_speech(w[None].to(dev), torch.tensor([len(w)], device=dev))
            embeds, mask, _ = model.build_inputs(
                emb,
                lens,
                prompt[None].to(dev),
                torch.tensor([len(prompt)], device=dev),
                pad_side="left",
            )
            out = model.llm.generate(
                inputs_embeds=embeds,
                attention_mask=mask,
                do_sample=False,
                num_beams=1,
                max_new_tokens=args.max_new_tokens,
                eos_token_id=end_id,
                pad_token_id=end_id,
            )
            outs.append(out[0].tolist())
        return outs

    ours()  # warm-up
    sync(dev)
    t = time.perf_counter()
    a = ours()
    sync(dev)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    b = reference()
    sync(dev)
    t_ref = time.perf_counter() - t
    audio = sum(secs)
    params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    print(
        json.dumps(
            {
                "benchmark": "decode_throughput",
                "device": dev if dev != "cpu" else f"cpu ({torch.get_num_threads()} threads)",
                "model": f"encoder {params(model.encoder) / 1e6:.1f} M + adapter {params(model.adapter) / 1e6:.1f} M"
                f" + LLM {params(model.llm) / 1e6:.1f} M parameters (random)",
                "utterances": len(waves),
                "audio_seconds": round(audio, 1),
                "new_tokens_per_utterance": args.max_new_tokens,
                "batch_size": args.batch_size,
                "same_tokens_as_reference": a == b,
                "ours_seconds": round(t_ours, 2),
                "reference_seconds": round(t_ref, 2),
                "ours_utts_per_second": round(len(waves) / t_ours, 2),
                "reference_utts_per_second": round(len(waves) / t_ref, 2),
                "speedup": round(t_ref / t_ours, 2),
                "ours_rtf": round(t_ours / audio, 4),
                "reference_rtf": round(t_ref / audio, 4),
                "target_speedup_min": 5.0,
                "pass": t_ref / t_ours >= 5.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
