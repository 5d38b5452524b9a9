"""Importing the released OSUM checkpoint (``infer.pt``, WeNet naming) into this model.

The checkpoint is a plain state dict of the whole reference model. Its keys map onto
this project's names as follows (``N`` a block index):

| OSUM key | here |
|---|---|
| ``encoder.embed.conv.0.*``, ``encoder.embed.conv.2.*`` | ``encoder.conv1.*``, ``encoder.conv2.*`` |
| ``encoder.embed.pos_enc.pe`` (1, positions, width) | ``encoder.positional_embedding`` (first 1500 rows) |
| ``encoder.encoders.N.self_attn.linear_{q,k,v,out}.*`` | ``encoder.blocks.N.attn.{query,key,value,out}.*`` |
| ``encoder.encoders.N.feed_forward.w_{1,2}.*`` | ``encoder.blocks.N.mlp.{0,2}.*`` |
| ``encoder.encoders.N.norm{1,2}.*`` | ``encoder.blocks.N.{attn_ln,mlp_ln}.*`` |
| ``encoder.after_norm.*`` | ``encoder.ln_post.*`` |
| ``down_sample_2.*``, ``speech_transformer.*``, ``speech_llama_proj.*`` | ``adapter.`` + the same |
| ``speech_token_emded.weight`` rows 4097, 4098 | ``speech_boundary.weight`` rows 0 (BOS), 1 (EOS) |
| ``llama_model.base_model.model.<name>`` | ``llm.base_model.model.<name>`` (LoRA kept) or ``llm.<name>`` (merged) |
| ``speaker_head.*``, ``ln_speech.*`` | not used by the reference's decoding: ignored, listed |
| ``llama_model.*.rotary_emb.inv_freq`` (older transformers saved it) | recomputed by the LLM: ignored, listed |

LLM names come with or without peft's ``.base_layer.`` (it depends on the peft version
that saved them); both are read. The model's sizes are read from the tensors' shapes
(encoder width, layers, mel bins; adapter blocks and FFN; LoRA rank and target modules);
what shapes cannot tell (attention heads, LoRA alpha) follows OSUM unless given. Every
checkpoint key is mapped or ignored, every model key must be found, and every shape must
match: anything else is an error that lists the keys.

The checkpoint is memory-mapped (``torch.load(mmap=True, weights_only=True)``) and the
renamed tensors are written out from the mapping, so a 7B checkpoint is not held twice
in memory (merging LoRA makes new tensors of the merged projections only).

LLM base weights equal to the LLM dir's (OSUM freezes them) are left out of the
converted file, compared one tensor at a time: the dir provides them, as for any
experiment, and checkpoints of a fine-tuning run stay small. Those that differ (or, with
LoRA merged, the merged projections) are kept.
"""

import logging
import re
from pathlib import Path
from typing import Dict, List, Tuple

import torch
import yaml

from osum.checkpoint import LazyTensors
from osum.llm import OSUM_LORA, check_model_dir
from osum.tasks import TASKS

logger = logging.getLogger(__name__)

BOS_ROW, EOS_ROW = 4097, 4098
IGNORED_PREFIXES = ("speaker_head.", "ln_speech.")
ADAPTER_PREFIXES = ("down_sample_2.", "speech_transformer.", "speech_llama_proj.")
LLM_PREFIX = "llama_model."
PEFT_PREFIX = "base_model.model."
# OSUM's SSR prompt asks for these labels (the same order as the English set)
STYLE_LABELS_ZH = [
    "新闻科普",
    "恐怖故事",
    "童话故事",
    "客服",
    "诗歌散文",
    "有声书",
    "日常口语",
    "其他",
]

# The prompts of the reference's demo, one per task: the released model was trained on
# these (and four other wordings each); the imported config decodes with them.
OSUM_PROMPTS = {
    "ASR": "执行语音识别任务，将音频转换为文字。",
    "SRWT": "请转录音频内容，并为每个英文词汇及其对应的中文翻译标注出精确到0.1秒的起止时间，"
    "时间范围用<>括起来。",
    "VED": "请将音频转录为文字记录，并在记录末尾标注<音频事件>标签，音频事件共8种：laugh，"
    "cough，cry，screaming，sigh，throat clearing，sneeze，other。",
    "SER": "请将音频内容转录成文字记录，并在记录末尾标注<情感>标签，情感共8种：sad，anger，"
    "neutral，happy，surprise，fear，disgust，和other。",
    "SSR": "请将音频内容进行文字转录，并在最后添加<风格>标签，标签共8种：新闻科普、恐怖故事、"
    "童话故事、客服、诗歌散文、有声书、日常口语、其他。",
    "SGC": "请将音频转录为文本，并在文本结尾处标注<性别>标签，性别为female或male。",
    "SAP": "请将音频转录为文本，并在文本结尾处标注<年龄>标签，年龄划分为child、adult和old三种。",
    "STTC": "首先将语音转录为文字，然后对语音内容进行回复，转录和文字之间使用<开始回答>分割。",
}

_ENCODER_RULES = [
    (r"embed\.conv\.0\.", "conv1."),
    (r"embed\.conv\.2\.", "conv2."),
    (r"encoders\.(\d+)\.self_attn\.linear_q\.", r"blocks.\1.attn.query."),
    (r"encoders\.(\d+)\.self_attn\.linear_k\.", r"blocks.\1.attn.key."),
    (r"encoders\.(\d+)\.self_attn\.linear_v\.", r"blocks.\1.attn.value."),
    (r"encoders\.(\d+)\.self_attn\.linear_out\.", r"blocks.\1.attn.out."),
    (r"encoders\.(\d+)\.feed_forward\.w_1\.", r"blocks.\1.mlp.0."),
    (r"encoders\.(\d+)\.feed_forward\.w_2\.", r"blocks.\1.mlp.2."),
    (r"encoders\.(\d+)\.norm1\.", r"blocks.\1.attn_ln."),
    (r"encoders\.(\d+)\.norm2\.", r"blocks.\1.mlp_ln."),
    (r"after_norm\.", "ln_post."),
]
_LORA = re.compile(r"^(.*)\.lora_([AB])\.default\.weight$")


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit: the message lists the keys."""


def _encoder_key(rest: str) -> str | None:
    for pattern, repl in _ENCODER_RULES:
        new, n = re.subn("^" + pattern, repl, rest)
        if n:
            return "encoder." + new
    return None


def _llm_name(key: str) -> str:
    """``llama_model.[base_model.model.]<name>`` -> HF name, without ``.base_layer``."""
    name = key[len(LLM_PREFIX) :]
    if name.startswith(PEFT_PREFIX):
        name = name[len(PEFT_PREFIX) :]
    return name.replace(".base_layer.", ".")


def _count(state, pattern: str) -> int:
    idx = {int(m.group(1)) for k in state for m in [re.match(pattern, k)] if m}
    return max(idx) + 1 if idx else 0


def read_sizes(state: Dict[str, torch.Tensor]) -> Dict:
    """The model sizes that the tensors' shapes tell."""
    need = [
        "encoder.embed.conv.0.weight",
        "speech_llama_proj.weight",
        "speech_transformer.encoders.0.feed_forward.w_1.weight",
        "speech_token_emded.weight",
    ]
    missing = [k for k in need if k not in state]
    if missing:
        raise CheckpointMismatch(f"not an OSUM checkpoint: missing {missing}")
    n_state, n_mels, _ = state["encoder.embed.conv.0.weight"].shape
    lora = {}
    for key, value in state.items():
        m = _LORA.match(_llm_name(key)) if key.startswith(LLM_PREFIX) else None
        if m and m.group(2) == "A":
            lora.setdefault("r", value.shape[0])
            lora.setdefault("modules", set()).add(m.group(1).rsplit(".", 1)[-1])
    llm_dtype = next(
        (v.dtype for k, v in state.items() if k.startswith(LLM_PREFIX) and "lora_" not in k),
        torch.float32,
    )
    return dict(
        n_mels=int(n_mels),
        n_state=int(n_state),
        n_layer=_count(state, r"encoder\.encoders\.(\d+)\."),
        llm_hidden=int(state["speech_llama_proj.weight"].shape[0]),
        adapter_blocks=_count(state, r"speech_transformer\.encoders\.(\d+)\."),
        adapter_ffn=int(state["speech_transformer.encoders.0.feed_forward.w_1.weight"].shape[0]),
        boundary_rows=int(state["speech_token_emded.weight"].shape[0]),
        lora_r=lora.get("r"),
        lora_modules=sorted(lora.get("modules", ())),
        llm_dtype=str(llm_dtype).replace("torch.", ""),
    )


def build_config(
    sizes: Dict,
    llm_dir: str,
    merge_lora: bool,
    encoder_heads: int | None = None,
    adapter_heads: int = 4,
    lora_alpha: int = OSUM_LORA["lora_alpha"],
    style_labels: str = "zh",
) -> Dict:
    """The training/decoding config of the imported model (``config.yaml``)."""
    lora = sizes["lora_r"] is not None and not merge_lora
    conf = {
        "frontend": "whisper",
        "frontend_conf": {"n_mels": sizes["n_mels"]},
        "encoder": "whisper",
        "encoder_conf": {
            "n_mels": sizes["n_mels"],
            "n_state": sizes["n_state"],
            # every Whisper size has 64-wide heads
            "n_head": encoder_heads or sizes["n_state"] // 64,
            "n_layer": sizes["n_layer"],
        },
        "speech_adapter": "osum",
        "speech_adapter_conf": {
            "attention_heads": adapter_heads,
            "linear_units": sizes["adapter_ffn"],
            "num_blocks": sizes["adapter_blocks"],
        },
        "llm_conf": {"path": str(Path(llm_dir).resolve()), "lora": lora},
        "model_conf": {"trainable": ["lora"] if lora else ["adapter"]},
        # decoding with OSUM's own (Chinese) prompts, the first wording of each task
        "preprocessor_conf": {"prompt_languages": ["zh"]},
    }
    if sizes["llm_dtype"] != "float32":
        conf["llm_conf"]["dtype"] = sizes["llm_dtype"]
    if lora:
        conf["llm_conf"]["lora_conf"] = {
            "r": sizes["lora_r"],
            "lora_alpha": lora_alpha,
            "target_modules": sizes["lora_modules"],
        }
    if style_labels not in ("zh", "en"):
        raise ValueError(f"style_labels must be zh or en, not {style_labels!r}")
    overrides = {}
    for name, prompt in OSUM_PROMPTS.items():
        prompts = {k: list(v) for k, v in TASKS[name].prompts.items()}
        prompts["zh"] = [prompt] + [p for p in prompts["zh"] if p != prompt]
        overrides[name] = {"prompts": prompts}
    task_conf = {"overrides": overrides}
    if style_labels == "zh":
        task_conf["label_sets"] = {"style": STYLE_LABELS_ZH}
    conf["preprocessor_conf"]["task_conf"] = task_conf
    return conf


def convert(
    state: Dict[str, torch.Tensor],
    expected: Dict[str, torch.Size],
    merge_lora: bool,
    lora_scale: float,
    n_ctx: int,
) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """OSUM state dict -> this model's, checked against ``expected`` (key -> shape).

    Returns the new state dict and the ignored keys; raises :class:`CheckpointMismatch` listing
    unknown, missing and mis-shaped keys."""
    out: Dict[str, torch.Tensor] = {}
    ignored, unknown = [], []
    lora: Dict[str, Dict[str, torch.Tensor]] = {}
    llm_has_peft = any(k.startswith("llm." + PEFT_PREFIX) for k in expected)
    for key, value in state.items():
        if key.startswith(IGNORED_PREFIXES) or key.endswith(".rotary_emb.inv_freq"):
            ignored.append(key)
        elif key == "encoder.embed.pos_enc.pe":
            table = value.reshape(-1, value.shape[-1])
            if table.shape[0] < n_ctx:
                raise CheckpointMismatch(
                    f"{key}: {table.shape[0]} positions, the encoder needs {n_ctx}"
                )
            out["encoder.positional_embedding"] = table[:n_ctx].clone()
        elif key.startswith("encoder."):
            new = _encoder_key(key[len("encoder.") :])
            if new is None:
                unknown.append(key)
            else:
                out[new] = value
        elif key.startswith(ADAPTER_PREFIXES):
            out["adapter." + key] = value
        elif key == "speech_token_emded.weight":
            if value.shape[0] <= EOS_ROW:
                raise CheckpointMismatch(
                    f"{key}: {value.shape[0]} rows; the speech BOS and EOS are rows "
                    f"{BOS_ROW} and {EOS_ROW}"
                )
            out["speech_boundary.weight"] = value[[BOS_ROW, EOS_ROW]].clone()
        elif key.startswith(LLM_PREFIX):
            name = _llm_name(key)
            m = _LORA.match(name)
            if m and merge_lora:
                lora.setdefault(m.group(1), {})[m.group(2)] = value
                continue
            if llm_has_peft:
                new = "llm." + PEFT_PREFIX + name
                if m is None:  # a LoRA-wrapped module keeps its weight under base_layer
                    module, leaf = name.rsplit(".", 1)
                    wrapped = f"llm.{PEFT_PREFIX}{module}.base_layer.{leaf}"
                    if wrapped in expected:
                        new = wrapped
            else:
                new = "llm." + name
            out[new] = value
        else:
            unknown.append(key)
    for module, ab in lora.items():
        target = f"llm.{module}.weight"
        if set(ab) != {"A", "B"} or target not in out:
            unknown.append(f"{LLM_PREFIX}{PEFT_PREFIX}{module}.lora_* (incomplete or no base)")
            continue
        base = out[target]
        delta = (ab["B"].float() @ ab["A"].float()) * lora_scale
        out[target] = (base.float() + delta).to(base.dtype)
    missing = sorted(set(expected) - set(out))
    extra = sorted(set(out) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(out[k].shape)}, model {tuple(expected[k])}"
        for k in sorted(set(out) & set(expected))
        if tuple(out[k].shape) != tuple(expected[k])
    ]
    problems = []
    if unknown:
        problems.append(f"unknown checkpoint keys ({len(unknown)}): {unknown[:20]}")
    if extra:
        problems.append(f"keys the model does not have ({len(extra)}): {extra[:20]}")
    if missing:
        problems.append(f"model keys the checkpoint lacks ({len(missing)}): {missing[:20]}")
    if shapes:
        problems.append(f"shapes that differ ({len(shapes)}): {shapes[:20]}")
    if problems:
        raise CheckpointMismatch(
            "the checkpoint does not fit the model:\n  " + "\n  ".join(problems)
        )
    return out, ignored


def expected_shapes(config: Dict) -> Dict[str, torch.Size]:
    """Key -> shape of the model the config describes, built on the meta device (no
    weights read, no memory)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from osum.adapter import OSUMAdapter
    from osum.encoder import WhisperEncoder

    llm_conf = config["llm_conf"]
    with torch.device("meta"):
        llm_config = AutoConfig.from_pretrained(llm_conf["path"], local_files_only=True)
        llm = AutoModelForCausalLM.from_config(llm_config)
        if llm_conf.get("lora"):
            conf = dict(OSUM_LORA, task_type="CAUSAL_LM")
            conf.update(llm_conf.get("lora_conf") or {})
            llm = get_peft_model(llm, LoraConfig(**conf))
        encoder = WhisperEncoder(**config["encoder_conf"])
        hidden = llm_config.hidden_size
        adapter = OSUMAdapter(encoder.output_size(), hidden, **config["speech_adapter_conf"])
    shapes = {"speech_boundary.weight": torch.Size([2, hidden])}
    for prefix, module in (("encoder.", encoder), ("adapter.", adapter), ("llm.", llm)):
        shapes.update({prefix + k: v.shape for k, v in module.state_dict().items()})
    return shapes


def import_osum(
    checkpoint: str,
    llm_dir: str,
    out_dir: str,
    merge_lora: bool = False,
    encoder_heads: int | None = None,
    adapter_heads: int = 4,
    lora_alpha: int = OSUM_LORA["lora_alpha"],
    style_labels: str = "zh",
) -> Dict:
    """Convert ``checkpoint`` into ``out_dir/config.yaml`` + ``out_dir/model.pth``.

    Returns a report: the sizes read, the ignored keys, the files written."""
    ckpt = Path(checkpoint)
    if not ckpt.is_file():
        raise FileNotFoundError(f"OSUM checkpoint {ckpt} does not exist (expected infer.pt)")
    check_model_dir(llm_dir, "LLM")
    state = torch.load(ckpt, map_location="cpu", mmap=True, weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise CheckpointMismatch(f"{ckpt}: not a state dict")
    sizes = read_sizes(state)
    config = build_config(
        sizes, llm_dir, merge_lora, encoder_heads, adapter_heads, lora_alpha, style_labels
    )
    expected = expected_shapes(config)
    hidden = expected["speech_boundary.weight"][1]
    if sizes["llm_hidden"] != hidden:
        raise CheckpointMismatch(
            f"{ckpt} projects speech to width {sizes['llm_hidden']}, but the LLM in "
            f"{llm_dir} has hidden_size {hidden}: wrong LLM dir (OSUM uses Qwen2-7B-Instruct)"
        )
    scale = lora_alpha / sizes["lora_r"] if sizes["lora_r"] else 1.0
    new, ignored = convert(state, expected, merge_lora, scale, n_ctx=1500)
    from_dir = drop_weights_equal_to_dir(new, llm_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.save(new, out / "model.pth")
    (out / "config.yaml").write_text(
        "# OSUM's released checkpoint, converted by osum.bin.import_osum\n"
        + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )
    logger.info(f"{len(new)} tensors -> {out / 'model.pth'}; ignored {len(ignored)}: {ignored}")
    return dict(
        sizes=sizes,
        ignored=ignored,
        llm_weights_from_dir=len(from_dir),
        llm_weights_in_file=sum(k.startswith("llm.") and "lora_" not in k for k in new),
        config=str(out / "config.yaml"),
    )


def drop_weights_equal_to_dir(state: Dict[str, torch.Tensor], llm_dir: str) -> List[str]:
    """Remove from ``state`` the LLM base weights equal to ``llm_dir``'s; returns them."""
    lazy = LazyTensors(llm_dir)
    dropped = []
    for key in [k for k in state if k.startswith("llm.") and "lora_" not in k]:
        name = key[len("llm.") :]
        if name.startswith(PEFT_PREFIX):
            name = name[len(PEFT_PREFIX) :]
        name = name.replace(".base_layer.", ".")
        if name in lazy:
            theirs = lazy.get(name)
            if theirs.shape == state[key].shape and torch.equal(
                theirs.to(state[key].dtype), state[key]
            ):
                dropped.append(key)
                del state[key]
    return dropped
