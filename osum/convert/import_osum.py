"""Importing OSUM checkpoints (WeNet naming) into this model.

Three forms are read, each a ``torch.save`` file (``--checkpoint``):

- a plain state dict of the whole reference model: the released ``infer.pt``, and the
  ``<tag>.pt`` its training writes under torch DDP (dtypes as trained);
- the ``<tag>.pt`` of DeepSpeed's ``convert_zero_checkpoint_to_fp32_state_dict``: the same
  keys, every tensor float32;
- DeepSpeed's ``<tag>/mp_rank_00_model_states.pt`` (the file, or its dir), whose state dict
  sits under ``module`` beside DeepSpeed's own entries.

A training-info ``<tag>.yaml`` beside a checkpoint is not needed. The keys map onto this
project's names as follows (``N`` a block index):

| OSUM key | here |
|---|---|
| ``encoder.embed.conv.0.*``, ``encoder.embed.conv.2.*`` | ``encoder.conv1.*``, ``encoder.conv2.*`` |
| ``encoder.encoders.N.self_attn.linear_{q,k,v,out}.*`` | ``encoder.blocks.N.attn.{query,key,value,out}.*`` |
| ``encoder.encoders.N.feed_forward.w_{1,2}.*`` | ``encoder.blocks.N.mlp.{0,2}.*`` |
| ``encoder.encoders.N.norm{1,2}.*`` | ``encoder.blocks.N.{attn_ln,mlp_ln}.*`` |
| ``encoder.after_norm.*`` | ``encoder.ln_post.*`` |
| ``down_sample_2.*``, ``speech_transformer.*``, ``speech_llama_proj.*`` | ``adapter.`` + the same |
| ``speech_token_emded.weight`` rows 4097, 4098 | ``speech_boundary.weight`` rows 0 (BOS), 1 (EOS) |
| ``llama_model.base_model.model.<name>`` | ``llm.base_model.model.<name>`` (LoRA kept) or ``llm.<name>`` (merged) |

What is checked, then dropped (the report lists each under ``checked``):

- ``embed_tokens.weight`` and ``lm_head.weight`` at the top level: the reference model keeps
  its LLM's input embedding and output layer as attributes of its own, so its state dict
  holds them twice. Each must equal the LLM tensor it aliases
  (``llama_model.[base_model.model.]model.embed_tokens.weight``, ``...lm_head.weight``);
  an error names both keys if it does not.
- ``encoder.embed.pos_enc.pe`` and ``speech_transformer.embed.pos_enc.pe``, (1, positions,
  width): WeNet saves its sinusoid tables as persistent buffers. Each must equal the
  sinusoid this project computes (Whisper's for the encoder, WeNet's for the adapter)
  within float rounding (``positions`` float32 epsilons, plus the epsilon of the values'
  own precision: a table rounded to bf16 or fp16 and saved as float32, as a bf16
  DeepSpeed engine's buffers and WeNet's copy of openai's fp16 Whisper table are, counts
  as bf16 or fp16); the model computes its own tables.

What is ignored (listed under ``ignored``): ``speaker_head.*`` and ``ln_speech.*``, which the
reference's decoding does not use, and ``llama_model.*.rotary_emb.inv_freq`` (older
transformers saved it; the LLM recomputes it).

LLM names come with or without peft's ``.base_layer.`` (it depends on the peft version
that saved them); both are read. The model's sizes are read from the tensors' shapes
(encoder width, layers, feed-forward width, mel bins; adapter blocks and FFN; LoRA rank and
target modules); what shapes cannot tell (attention heads, LoRA alpha) follows OSUM unless
given. Every checkpoint key is mapped, checked or ignored, every model key must be found,
and every shape must match: anything else is an error that lists the keys.

The LLM runs in the dtype of the checkpoint's LLM weights, except where those are float32
and the LLM dir's are of a lower precision (DeepSpeed's fp32 conversion of a bf16 model):
then in the dir's. ``llm_dtype`` overrides it.

Every error names the checkpoint. The checkpoint is memory-mapped
(``torch.load(mmap=True, weights_only=True)``; a file in torch's legacy format is read
whole) and the renamed tensors are written out from the mapping, so a 7B checkpoint is not held twice
in memory (merging LoRA makes new tensors of the merged projections only).

LLM base weights equal to the LLM dir's (OSUM freezes them), compared exactly one tensor at
a time (the dir's cast to the checkpoint's dtype: a float32 checkpoint of a bf16 LLM holds
the bf16 values), are left out of the converted file: the dir provides them, as for any
experiment, and checkpoints of a fine-tuning run stay small. Those that differ (or, with
LoRA merged, the merged projections) are kept.
"""

import json
import logging
import re
from pathlib import Path
from typing import Dict, List, Tuple

import torch
import yaml

from osum.asrx.registry import TASKS
from osum.files import atomic_path, write_text
from osum.model.adapter import wenet_sinusoids
from osum.model.checkpoint import LazyTensors
from osum.model.encoder import MAX_SOURCE_POSITIONS, sinusoids
from osum.model.llm import DTYPES, OSUM_LORA, check_model_dir, prepare_llm

logger = logging.getLogger(__name__)

BOS_ROW, EOS_ROW = 4097, 4098
IGNORED_PREFIXES = ("speaker_head.", "ln_speech.")
ADAPTER_PREFIXES = ("down_sample_2.", "speech_transformer.", "speech_llama_proj.")
LLM_PREFIX = "llama_model."
PEFT_PREFIX = "base_model.model."
# top-level aliases of the LLM's tensors -> the HF name of the tensor each aliases
ALIASES = {"embed_tokens.weight": "model.embed_tokens.weight", "lm_head.weight": "lm_head.weight"}
# saved sinusoid tables -> (whose convention, the table of that convention)
TABLES = {
    "encoder.embed.pos_enc.pe": ("Whisper's sinusoid", sinusoids),
    "speech_transformer.embed.pos_enc.pe": ("WeNet's sinusoid", wenet_sinusoids),
}
DEEPSPEED_STATES = "mp_rank_00_model_states.pt"
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


def _hf_name(name: str) -> str:
    """``[base_model.model.]<name>`` (an LLM's key, peft-wrapped or not) -> its HF name,
    without ``.base_layer``."""
    if name.startswith(PEFT_PREFIX):
        name = name[len(PEFT_PREFIX) :]
    return name.replace(".base_layer.", ".")


def _llm_name(key: str) -> str:
    """``llama_model.[base_model.model.]<name>`` -> HF name, without ``.base_layer``."""
    return _hf_name(key[len(LLM_PREFIX) :])


def _count(state, pattern: str) -> int:
    idx = {int(m.group(1)) for k in state for m in [re.match(pattern, k)] if m}
    return max(idx) + 1 if idx else 0


def read_sizes(state: Dict[str, torch.Tensor]) -> Dict:
    """The model sizes that the tensors' shapes tell."""
    need = [
        "encoder.embed.conv.0.weight",
        "encoder.encoders.0.feed_forward.w_1.weight",
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
    return dict(
        n_mels=int(n_mels),
        n_state=int(n_state),
        n_layer=_count(state, r"encoder\.encoders\.(\d+)\."),
        n_ffn=int(state["encoder.encoders.0.feed_forward.w_1.weight"].shape[0]),
        llm_hidden=int(state["speech_llama_proj.weight"].shape[0]),
        adapter_blocks=_count(state, r"speech_transformer\.encoders\.(\d+)\."),
        adapter_ffn=int(state["speech_transformer.encoders.0.feed_forward.w_1.weight"].shape[0]),
        boundary_rows=int(state["speech_token_emded.weight"].shape[0]),
        lora_r=lora.get("r"),
        lora_modules=sorted(lora.get("modules", ())),
    )


def build_config(
    sizes: Dict,
    llm_dir: str,
    merge_lora: bool,
    llm_dtype: str = "float32",
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
            "n_ffn": sizes["n_ffn"],
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
    if llm_dtype != "float32":
        conf["llm_conf"]["dtype"] = llm_dtype
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

    ``state`` holds neither the aliases nor the sinusoid tables (:func:`set_aside`); the
    encoder's table is this project's, ``n_ctx`` positions. Returns the new state dict and
    the ignored keys; raises :class:`CheckpointMismatch` listing unknown, missing and
    mis-shaped keys."""
    out: Dict[str, torch.Tensor] = {}
    width = next((v.shape[0] for k, v in state.items() if k.startswith("encoder.embed.conv.2.")), 0)
    if width:
        out["encoder.positional_embedding"] = sinusoids(n_ctx, width)
    ignored, unknown = [], []
    lora: Dict[str, Dict[str, torch.Tensor]] = {}  # module -> {"A": ..., "B": ...}
    llm_has_peft = any(k.startswith("llm." + PEFT_PREFIX) for k in expected)
    for key, value in state.items():
        lora_part = _LORA.match(_llm_name(key)) if key.startswith(LLM_PREFIX) else None
        if key.startswith(IGNORED_PREFIXES) or key.endswith(".rotary_emb.inv_freq"):
            ignored.append(key)
        elif key == "speech_token_emded.weight":
            out["speech_boundary.weight"] = _speech_boundary(key, value)
        elif lora_part and merge_lora:
            lora.setdefault(lora_part.group(1), {})[lora_part.group(2)] = value
        else:
            new = _model_key(key, expected, llm_has_peft)
            if new is None:
                unknown.append(key)
            else:
                out[new] = value
    unknown += _merge_lora(out, lora, lora_scale)
    problems = _fit_problems(out, expected, unknown)
    if problems:
        raise CheckpointMismatch(
            "the checkpoint does not fit the model:\n  " + "\n  ".join(problems)
        )
    return out, ignored


def _speech_boundary(key: str, value: torch.Tensor) -> torch.Tensor:
    """The speech BOS and EOS rows of OSUM's ``speech_token_emded.weight``."""
    if value.shape[0] <= EOS_ROW:
        raise CheckpointMismatch(
            f"{key}: {value.shape[0]} rows; the speech BOS and EOS are rows {BOS_ROW} and {EOS_ROW}"
        )
    return value[[BOS_ROW, EOS_ROW]].clone()


def _model_key(key: str, expected: Dict[str, torch.Size], llm_has_peft: bool) -> str | None:
    """This model's name of an encoder, adapter or LLM checkpoint key (the module doc's
    table); None for a key it does not know."""
    if key.startswith("encoder."):
        return _encoder_key(key[len("encoder.") :])
    if key.startswith(ADAPTER_PREFIXES):
        return "adapter." + key
    if key.startswith(LLM_PREFIX):
        return _llm_key(_llm_name(key), expected, llm_has_peft)
    return None


def _llm_key(name: str, expected: Dict[str, torch.Size], llm_has_peft: bool) -> str:
    """This model's key of the LLM's tensor ``name`` (its HF name): under peft's
    ``base_model.model.`` when the model wraps its LLM, a LoRA-wrapped module's weight
    under ``base_layer``."""
    if not llm_has_peft:
        return "llm." + name
    if _LORA.match(name) is None:  # a LoRA-wrapped module keeps its weight under base_layer
        module, leaf = name.rsplit(".", 1)
        wrapped = f"llm.{PEFT_PREFIX}{module}.base_layer.{leaf}"
        if wrapped in expected:
            return wrapped
    return "llm." + PEFT_PREFIX + name


def _merge_lora(
    out: Dict[str, torch.Tensor], lora: Dict[str, Dict[str, torch.Tensor]], scale: float
) -> List[str]:
    """Adds each module's LoRA update (``B @ A`` times ``scale``) to its weight in ``out``,
    in the weight's dtype; returns the modules it could not merge (a matrix or the base
    weight missing), named as unknown keys."""
    unmerged = []
    for module, ab in lora.items():
        target = f"llm.{module}.weight"
        if set(ab) != {"A", "B"} or target not in out:
            unmerged.append(f"{LLM_PREFIX}{PEFT_PREFIX}{module}.lora_* (incomplete or no base)")
            continue
        base = out[target]
        delta = (ab["B"].float() @ ab["A"].float()) * scale
        out[target] = (base.float() + delta).to(base.dtype)
    return unmerged


def _fit_problems(
    out: Dict[str, torch.Tensor], expected: Dict[str, torch.Size], unknown: List[str]
) -> List[str]:
    """What keeps the converted ``out`` from loading into the model: unknown checkpoint
    keys, keys the model lacks or does not have, shapes that differ (20 of each named)."""
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
    return problems


def expected_shapes(config: Dict) -> Dict[str, torch.Size]:
    """Key -> shape of the model the config describes, built on the meta device (no
    weights read, no memory)."""
    from transformers import AutoConfig, AutoModelForCausalLM

    from osum.model.adapter import OSUMAdapter
    from osum.model.encoder import WhisperEncoder

    llm_conf = config["llm_conf"]
    with torch.device("meta"):
        llm_config = AutoConfig.from_pretrained(llm_conf["path"], local_files_only=True)
        llm = AutoModelForCausalLM.from_config(llm_config)
        llm = prepare_llm(llm, bool(llm_conf.get("lora")), llm_conf.get("lora_conf"))
        encoder = WhisperEncoder(**config["encoder_conf"])
        hidden = llm_config.hidden_size
        adapter = OSUMAdapter(encoder.output_size(), hidden, **config["speech_adapter_conf"])
    shapes = {"speech_boundary.weight": torch.Size([2, hidden])}
    for prefix, module in (("encoder.", encoder), ("adapter.", adapter), ("llm.", llm)):
        shapes.update({prefix + k: v.shape for k, v in module.state_dict().items()})
    return shapes


def read_checkpoint(checkpoint) -> Tuple[Dict[str, torch.Tensor], str]:
    """The state dict of a checkpoint in any of the forms the module doc lists, memory-mapped,
    and the form's name."""
    path = Path(checkpoint)
    if path.is_dir():
        path = path / DEEPSPEED_STATES
        if not path.is_file():
            raise FileNotFoundError(
                f"{checkpoint} is a dir without {DEEPSPEED_STATES} (a DeepSpeed checkpoint "
                "dir); give a checkpoint file (infer.pt, <tag>.pt) or such a dir"
            )
    elif not path.is_file():
        raise FileNotFoundError(
            f"OSUM checkpoint {path} does not exist (expected infer.pt, <tag>.pt or a "
            f"DeepSpeed dir with {DEEPSPEED_STATES})"
        )
    try:
        try:
            obj = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except RuntimeError as e:  # torch.save's legacy (pre-zip) format maps no memory
            if "mmap" not in str(e):
                raise
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001  (pickle, zip and format errors alike)
        raise CheckpointMismatch(f"{path}: not readable as tensors ({_why(e)})") from None
    form = "state dict"
    if isinstance(obj, dict) and isinstance(obj.get("module"), dict):
        obj, form = obj["module"], "DeepSpeed model states (the state dict under 'module')"
    elif isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj, form = obj["model"], "the state dict under 'model'"
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointMismatch(f"{path}: not a state dict (a dict of tensors)")
    if all(v.dtype == torch.float32 for v in obj.values() if v.is_floating_point()):
        form += ", all float32"
    return obj, form


def _why(e: Exception) -> str:
    """The line of a loading error that says what is wrong (weights_only's names the
    object it refused)."""
    lines = [x.strip() for x in str(e).splitlines() if x.strip()]
    told = [x for x in lines if "Unsupported global" in x or "Unsupported operand" in x]
    return (told or lines or [type(e).__name__])[0]


def _precision(t: torch.Tensor) -> torch.dtype:
    """The coarsest dtype whose values ``t`` holds exactly: a table rounded to bf16 or fp16
    (a bf16 DeepSpeed engine, openai's fp16 Whisper) and saved as float32 is one of them."""
    for dtype in (torch.bfloat16, torch.float16):
        if torch.equal(t.to(dtype).to(t.dtype), t):
            return dtype
    return t.dtype


def _within_rounding(saved: torch.Tensor, computed: torch.Tensor) -> Tuple[bool, float, float]:
    """A saved sinusoid against ours: float32 arithmetic differs by about an epsilon per
    unit of the angle (up to the positions' count), and the values' own precision rounds
    once more."""
    diff = float((saved.float() - computed).abs().max()) if saved.numel() else 0.0
    tol = saved.shape[0] * torch.finfo(torch.float32).eps + torch.finfo(_precision(saved)).eps
    return diff <= tol, diff, tol


def set_aside(state: Dict[str, torch.Tensor]) -> Tuple[Dict[str, torch.Tensor], Dict[str, str]]:
    """``state`` without the LLM's aliases and the sinusoid tables, each checked first (module
    doc); returns the rest and what was checked, key -> what it was found equal to."""
    rest = dict(state)
    checked: Dict[str, str] = {}
    for alias, name in ALIASES.items():
        if alias not in rest:
            continue
        target = next((k for k in rest if k.startswith(LLM_PREFIX) and _llm_name(k) == name), None)
        if target is None:
            raise CheckpointMismatch(
                f"{alias}: the reference keeps it as an alias of its LLM's {name}, but the "
                f"checkpoint has no {LLM_PREFIX}...{name}"
            )
        value, theirs = rest.pop(alias), rest[target]
        if value.shape != theirs.shape or not torch.equal(value, theirs):
            raise CheckpointMismatch(
                f"{alias} differs from {target}: in the reference model they are one tensor "
                "(the LLM's, kept as an attribute of the model), so this is not one model's "
                "state dict"
            )
        checked[alias] = f"equal to {target}, its alias"
    for key, (what, table) in TABLES.items():
        if key not in rest:
            continue
        value = rest.pop(key)
        saved = value.reshape(-1, value.shape[-1])
        ok, diff, tol = _within_rounding(saved, table(*saved.shape))
        if not ok:
            raise CheckpointMismatch(
                f"{key} {tuple(value.shape)}: differs from {what} by up to {diff:.3g}, more "
                f"than float rounding ({tol:.2g}); this project computes that table and "
                "cannot load another"
            )
        checked[key] = f"{what} {tuple(value.shape)}, within {diff:.2g}"
    return rest, checked


def choose_llm_dtype(
    state: Dict[str, torch.Tensor], llm_dir: str, lazy: LazyTensors
) -> Tuple[str, str]:
    """The dtype the imported LLM runs in (module doc) and why; ``lazy``: the dir's weights,
    whose first tensor tells the dir's dtype where its config.json does not."""
    ours = next(
        (v.dtype for k, v in state.items() if k.startswith(LLM_PREFIX) and "lora_" not in k),
        torch.float32,
    )
    config = json.loads((Path(llm_dir) / "config.json").read_text())
    said = config.get("dtype") or config.get("torch_dtype")
    if said in DTYPES:
        theirs = DTYPES[said]
    else:
        theirs = lazy.get(next(iter(lazy.files))).dtype if lazy.files else ours
    name = {v: k for k, v in DTYPES.items()}
    if ours == torch.float32 and theirs in (torch.bfloat16, torch.float16):
        return name[theirs], "the LLM dir's: the checkpoint's LLM weights are float32"
    if ours not in name:
        raise CheckpointMismatch(f"the checkpoint's LLM weights are {ours}; known: {list(DTYPES)}")
    return name[ours], "the checkpoint's LLM weights'"


def import_osum(
    checkpoint: str,
    llm_dir: str,
    out_dir: str,
    merge_lora: bool = False,
    encoder_heads: int | None = None,
    adapter_heads: int = 4,
    lora_alpha: int = OSUM_LORA["lora_alpha"],
    style_labels: str = "zh",
    llm_dtype: str | None = None,
) -> Dict:
    """Convert ``checkpoint`` (any form of the module doc) into ``out_dir/config.yaml`` +
    ``out_dir/model.pth``.

    Returns a report: the form read, the sizes, what was checked and dropped, what was
    ignored, the LLM's dtype, the files written."""
    for name, value in (("adapter_heads", adapter_heads), ("lora_alpha", lora_alpha)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if encoder_heads is not None and encoder_heads < 1:
        raise ValueError(f"encoder_heads must be >= 1, got {encoder_heads}")
    check_model_dir(llm_dir, "LLM")
    if llm_dtype is not None and llm_dtype not in DTYPES:
        raise ValueError(f"llm_dtype {llm_dtype!r} unknown; known: {list(DTYPES)}")
    state, form = read_checkpoint(checkpoint)
    lazy = LazyTensors(llm_dir)
    try:
        options = dict(
            encoder_heads=encoder_heads,
            adapter_heads=adapter_heads,
            lora_alpha=lora_alpha,
            style_labels=style_labels,
        )
        new, config, report = _convert_checkpoint(
            state, llm_dir, lazy, merge_lora, llm_dtype, options
        )
    except CheckpointMismatch as e:
        raise CheckpointMismatch(f"{checkpoint}: {e}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # config.yaml is the import's last word: gone while model.pth is replaced, written
    # last, so that a kill at any moment leaves a complete pair or no config at all
    (out / "config.yaml").unlink(missing_ok=True)
    with atomic_path(out / "model.pth") as tmp:  # (a full disk named with the path)
        torch.save(new, tmp)
    write_text(
        out / "config.yaml",
        f"# OSUM checkpoint {Path(checkpoint).name}, converted by osum.bin.import_osum\n"
        + yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
    )
    logger.info(f"{len(new)} tensors -> {out / 'model.pth'}")
    return dict(form=form, **report, config=str(out / "config.yaml"))


def _convert_checkpoint(
    state: Dict[str, torch.Tensor],
    llm_dir: str,
    lazy: LazyTensors,
    merge_lora: bool,
    llm_dtype: str | None,
    options: Dict,
) -> Tuple[Dict[str, torch.Tensor], Dict, Dict]:
    """:func:`import_osum`'s work on a state dict: this model's state dict, its config and
    the report; ``options``: :func:`build_config`'s heads, LoRA alpha and style labels."""
    state, checked = set_aside(state)
    sizes = read_sizes(state)
    why = "given"
    if llm_dtype is None:
        llm_dtype, why = choose_llm_dtype(state, llm_dir, lazy)
    config = build_config(sizes, llm_dir, merge_lora, llm_dtype, **options)
    expected = expected_shapes(config)
    hidden = expected["speech_boundary.weight"][1]
    if sizes["llm_hidden"] != hidden:
        raise CheckpointMismatch(
            f"it projects speech to width {sizes['llm_hidden']}, but the LLM in "
            f"{llm_dir} has hidden_size {hidden}: wrong LLM dir (OSUM uses Qwen2-7B-Instruct)"
        )
    scale = options["lora_alpha"] / sizes["lora_r"] if sizes["lora_r"] else 1.0
    new, ignored = convert(state, expected, merge_lora, scale, n_ctx=MAX_SOURCE_POSITIONS)
    from_dir = drop_weights_equal_to_dir(new, lazy)
    report = dict(
        sizes=sizes,
        checked=checked,
        ignored=ignored,
        llm_dtype=f"{llm_dtype} ({why})",
        llm_weights_from_dir=len(from_dir),
        llm_weights_in_file=sum(k.startswith("llm.") and "lora_" not in k for k in new),
    )
    return new, config, report


def drop_weights_equal_to_dir(state: Dict[str, torch.Tensor], lazy: LazyTensors) -> List[str]:
    """Remove from ``state`` the LLM base weights equal to the LLM dir's (``lazy``), the
    dir's cast to the checkpoint's dtype; returns them."""
    dropped = []
    for key in [k for k in state if k.startswith("llm.") and "lora_" not in k]:
        name = _hf_name(key[len("llm.") :])
        if name in lazy:
            theirs = lazy.get(name)
            if theirs.shape == state[key].shape and torch.equal(
                theirs.to(state[key].dtype), state[key]
            ):
                dropped.append(key)
                del state[key]
    return dropped
