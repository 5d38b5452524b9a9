#!/usr/bin/env python3
"""What the real-scale model holds on each GPU, phase by phase, before activations.

Builds OSUM's real-scale model (Whisper-medium encoder, the OSUM adapter, Qwen2-7B-Instruct
with LoRA) on PyTorch's meta device, so no weights are read or allocated: the model
classes are the real ones, and each phase's adapter, LoRA, LLM dtype and trainable parts
come from the recipe configs (``egs/TEMPLATE/osum1/conf/train_*.yaml``). The encoder and
LLM shapes are the published ones, or those of ``config.json`` in the dirs the configs
name when they are there. Prints JSON: parameters per part, trainable parameters, the
size of a saved model (``OSUMModel.state_dict``: the frozen LLM base and a frozen
pretrained encoder are not saved) and of ``checkpoint.pth``, and the static memory per GPU (weights, gradients, optimizer states) under

- ``ddp_amp``: ESPnet's DDP trainer with ``--use_amp`` (the configs' setting): trainable
  weights, their gradients and DDP's gradient buckets in float32, AdamW's two float32
  moments; frozen weights in their own dtype (the LLM base bf16, a frozen encoder fp32);
  ``ddp_amp_bucket_view`` the same with ESPnet's ``--gradient_as_bucket_view true``, whose
  buckets are the gradients themselves;
- ``zero2_bf16``: DeepSpeed ZeRO stage 2 with bf16 (``conf/deepspeed_zero2.json``): every
  weight in bf16, the bf16 gradients, and the float32 master weights and moments split
  over the GPUs (the ZeRO paper's accounting, 2 + (2 + 12) / N bytes a trainable
  parameter), plus the configured reduce and all-gather buckets.

Activations (which gradient checkpointing keeps small) and the CUDA context come on top:
``--measure cuda`` builds each phase with random weights on the GPU and runs two training
steps on a batch of OSUM's size (3 x 13 s = 3900 log-mel frames, the configs'
``batch_bins``), reporting the peak memory. Target: phase 3 under ``ddp_amp`` needs at
most 40 GB a GPU, half an 80 GB card.

    python bench/real_scale_memory.py [--gpus 8] [--conf_dir egs/TEMPLATE/osum1/conf]
    python bench/real_scale_memory.py --measure cuda            # one GPU of 40 GB or more
"""

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch
import yaml
from transformers import Qwen2Config, Qwen2ForCausalLM

from osum.model.encoder import WhisperEncoder
from osum.model.espnet_model import OSUMModel
from osum.model.llm import base_model

with contextlib.redirect_stdout(sys.stderr):  # ESPnet prints on import; stdout is the JSON
    from osum.train.task import adapter_choices, frontend_choices, specaug_choices

REPO = Path(__file__).resolve().parents[1]
PHASES = ["train_1_adapter", "train_2_encoder", "train_3_lora"]
# Whisper-medium (openai-whisper's dims) and Qwen2-7B-Instruct (its config.json)
WHISPER_MEDIUM = dict(n_mels=80, n_state=1024, n_head=16, n_layer=24, n_ctx=1500)
QWEN2_7B = dict(
    vocab_size=152064,
    hidden_size=3584,
    intermediate_size=18944,
    num_hidden_layers=28,
    num_attention_heads=28,
    num_key_value_heads=4,
    max_position_embeddings=32768,
    rope_theta=1000000.0,
    rms_norm_eps=1e-6,
    tie_word_embeddings=False,
)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
GB = 1e9


def encoder_dims(init: str | None, base: Path) -> dict:
    cfg = base / init / "config.json" if init else None
    if cfg is None or not cfg.is_file():
        return dict(WHISPER_MEDIUM)
    c = json.loads(cfg.read_text())
    return dict(
        n_mels=c["num_mel_bins"],
        n_state=c["d_model"],
        n_head=c["encoder_attention_heads"],
        n_layer=c["encoder_layers"],
        n_ctx=c["max_source_positions"],
    )


def llm_config(path: str, base: Path) -> Qwen2Config:
    cfg = base / path / "config.json"
    if cfg.is_file():
        return Qwen2Config.from_json_file(str(cfg))
    return Qwen2Config(**QWEN2_7B)


def build(
    conf: dict,
    base: Path,
    device: str = "meta",
    llm_layers: int | None = None,
    encoder_layers: int | None = None,
) -> OSUMModel:
    """The phase's model from the same classes and settings that ``OSUMTask.build_model``
    uses (which reads the pretrained weights): on the meta device, nothing is allocated;
    on another, the weights are random. ``llm_layers`` and ``encoder_layers`` cut the
    depth (a check of the measuring code on a CPU)."""
    from osum.model.llm import prepare_llm

    llm_conf = conf["llm_conf"]
    frontend = specaug = None  # built on the CPU: the mel filters are computed (not on meta)
    if conf.get("frontend"):
        frontend = frontend_choices.get_class(conf["frontend"])(**conf.get("frontend_conf", {}))
    if conf.get("specaug"):
        specaug = specaug_choices.get_class(conf["specaug"])(**conf.get("specaug_conf", {}))
    with torch.device(device):
        init = conf["encoder_conf"].get("init")
        dims = encoder_dims(init, base)
        if encoder_layers:
            dims["n_layer"] = encoder_layers
        gc = conf["encoder_conf"].get("gradient_checkpointing", False)
        encoder = WhisperEncoder(**dims, gradient_checkpointing=gc)
        encoder.init = init  # as if loaded from it: a frozen encoder is not checkpointed
        cfg = llm_config(llm_conf["path"], base)
        if llm_layers:
            cfg.num_hidden_layers = llm_layers
        default = torch.get_default_dtype()
        torch.set_default_dtype(DTYPES[llm_conf.get("dtype", "float32")])
        try:  # built in its dtype, as from_pretrained loads it
            llm = Qwen2ForCausalLM(cfg)
        finally:
            torch.set_default_dtype(default)
        llm = prepare_llm(
            llm,
            llm_conf.get("lora", True),
            llm_conf.get("lora_conf"),
            llm_conf.get("gradient_checkpointing", False),
        )
        adapter_conf = dict(conf["speech_adapter_conf"])
        adapter_conf.update(input_size=encoder.output_size(), output_size=cfg.hidden_size)
        adapter = adapter_choices.get_class(conf["speech_adapter"])(**adapter_conf)
        model = OSUMModel(
            frontend=frontend, specaug=specaug, encoder=encoder, adapter=adapter, llm=llm,
            **conf.get("model_conf", {}),
        )  # fmt: skip
    return model if device == "meta" else model.to(device)


def measure(model: OSUMModel, conf: dict, device: str, args) -> dict:
    """Two training steps (the second with AdamW's state in place) on one batch of
    ``--utts`` random utterances of ``--seconds`` each, autocast to bf16 as ESPnet's
    ``--use_amp`` does on such GPUs: the peak memory (CUDA) and the step's time."""
    torch.manual_seed(0)
    vocab = base_model(model.llm).config.vocab_size
    n, samples = args.utts, int(args.seconds * 16000)
    batch = dict(
        speech=0.1 * torch.randn(n, samples, device=device),
        speech_lengths=torch.full((n,), samples, device=device),
        prompt=torch.randint(0, vocab, (n, args.prompt_tokens), device=device),
        prompt_lengths=torch.full((n,), args.prompt_tokens, device=device),
        text=torch.randint(0, vocab, (n, args.text_tokens), device=device),
        text_lengths=torch.full((n,), args.text_tokens, device=device),
    )
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, **conf.get("optim_conf", {}))
    model.train()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(2):
        start = time.perf_counter()
        with torch.autocast(torch.device(device).type, torch.bfloat16, enabled=conf.get("use_amp")):
            loss, _, _ = model(**batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, conf.get("grad_clip", 5.0))
        optim.step()
        optim.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    out = {
        "batch": f"{n} x {args.seconds} s, {args.prompt_tokens} prompt + {args.text_tokens} "
        "target tokens each",
        "loss": round(float(loss.detach()), 3),
        "step_s": round(times[-1], 3),
    }
    if cuda:
        out["peak_allocated_GB"] = round(torch.cuda.max_memory_allocated() / GB, 2)
        out["peak_reserved_GB"] = round(torch.cuda.max_memory_reserved() / GB, 2)
    return out


def account(model: OSUMModel, gpus: int, ds: dict) -> dict:
    parts: dict = {}
    trainable = frozen_bytes = frozen_bf16 = 0
    for name, p in model.named_parameters():
        part = "lora" if "lora_" in name else name.split(".")[0]
        parts[part] = parts.get(part, 0) + p.numel()
        if p.requires_grad:
            trainable += p.numel()
        else:
            frozen_bytes += p.numel() * p.element_size()
            frozen_bf16 += p.numel() * 2
    state = model.state_dict()
    model_file = sum(v.numel() * v.element_size() for v in state.values())
    # under --use_amp the trainable weights stay float32 (4), with float32 gradients (4),
    # DDP's gradient buckets (4) and AdamW's exp_avg and exp_avg_sq (8)
    ddp = frozen_bytes + trainable * (4 + 4 + 4 + 8)
    ddp_view = ddp - trainable * 4  # --gradient_as_bucket_view true: the buckets are the grads
    zero = ds.get("zero_optimization", {})
    buckets = 2 * (zero.get("reduce_bucket_size", 5e8) + zero.get("allgather_bucket_size", 5e8))
    zero2 = frozen_bf16 + trainable * (2 + (2 + 12) / gpus) + buckets
    return {
        "parameters_M": {k: round(v / 1e6, 2) for k, v in parts.items()},
        "trainable_M": round(trainable / 1e6, 2),
        "model_file_GB": round(model_file / GB, 3),
        "model_file_tensors": len(state),
        # ESPnet's checkpoint.pth (for resuming) adds AdamW's two moments
        "resume_checkpoint_GB": round((model_file + 8 * trainable) / GB, 3),
        "static_GB_per_gpu": {
            "ddp_amp": round(ddp / GB, 2),
            "ddp_amp_bucket_view": round(ddp_view / GB, 2),
            f"zero2_bf16_{gpus}_gpus": round(zero2 / GB, 2),
        },
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conf_dir", type=Path, default=REPO / "egs/TEMPLATE/osum1/conf")
    parser.add_argument("--gpus", type=int, default=8, help="GPUs ZeRO splits the states over")
    parser.add_argument(
        "--model_base", type=Path, default=None,
        help="dir the configs' model paths are relative to (default: the recipe dir)",
    )  # fmt: skip
    parser.add_argument(
        "--measure", default=None, metavar="DEVICE",
        help="also run two training steps of each phase on DEVICE (cuda: peak memory)",
    )  # fmt: skip
    parser.add_argument("--phases", nargs="+", default=PHASES, choices=PHASES)
    parser.add_argument("--utts", type=int, default=3, help="utterances in the measured batch")
    parser.add_argument("--seconds", type=float, default=13.0, help="each one's length")
    parser.add_argument("--prompt_tokens", type=int, default=24)
    parser.add_argument("--text_tokens", type=int, default=120)
    parser.add_argument("--llm_layers", type=int, default=None, help="measure: cut the depth")
    parser.add_argument("--encoder_layers", type=int, default=None, help="measure: cut it too")
    args = parser.parse_args()
    base = args.model_base or args.conf_dir.parent
    ds = json.loads((args.conf_dir / "deepspeed_zero2.json").read_text())
    out = {"gpus": args.gpus, "phases": {}}
    for phase in args.phases:
        conf = yaml.safe_load((args.conf_dir / f"{phase}.yaml").read_text())
        out["phases"][phase] = account(build(conf, base), args.gpus, ds)
        if args.measure:
            model = build(conf, base, args.measure, args.llm_layers, args.encoder_layers)
            out["phases"][phase]["measured"] = measure(model, conf, args.measure, args)
            del model
            if args.measure.startswith("cuda"):
                out["device"] = torch.cuda.get_device_name()
                torch.cuda.empty_cache()
    if args.llm_layers or args.encoder_layers:
        out["measured_depth"] = {
            "llm_layers": args.llm_layers,
            "encoder_layers": args.encoder_layers,
        }
    if "train_3_lora" in out["phases"]:
        ddp3 = out["phases"]["train_3_lora"]["static_GB_per_gpu"]["ddp_amp"]
        out["target"] = {"phase3_ddp_amp_GB_max": 40, "met": ddp3 <= 40}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
