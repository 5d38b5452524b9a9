"""The LLM: any HF causal LM from a local dir (Qwen2 family first), with peft LoRA.

Nothing is fetched from a hub: ``local_files_only`` is always set, and a missing or
wrong dir fails with a message naming it. The tokenizer is the dir's own: an HF
``tokenizer.json`` (Qwen2), or only a sentencepiece ``tokenizer.model`` (Llama 2, Vicuna,
Gemma), which ``sentencepiece`` reads. Loading prints no progress bars: they are for long
downloads, not a local load.
"""

import logging
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, List

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

logger = logging.getLogger(__name__)

# OSUM's LoRA: r 8, alpha 32, dropout 0.1, every projection but up_proj.
OSUM_LORA = dict(
    r=8,
    lora_alpha=32,
    lora_dropout=0.1,
    target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj"],
)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def check_model_dir(path: str | Path, what: str) -> Path:
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{what} dir {p} does not exist")
    if not (p / "config.json").is_file():
        raise FileNotFoundError(
            f"{what} dir {p} has no config.json (expected a model saved with save_pretrained)"
        )
    return p


@contextmanager
def quiet_loading():
    """transformers without its progress bars, and peft without the deprecation warning
    that its LoRA wrapping raises through transformers (not a call of ours)."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning
            )
            yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


def load_tokenizer(path: str | Path):
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"tokenizer dir {p} does not exist")
    if (p / "tokenizer.model").is_file() and not (p / "tokenizer.json").is_file():
        try:  # transformers reads a sentencepiece model with it, and says otherwise little
            import sentencepiece  # noqa: F401
        except ImportError:
            raise ImportError(
                f"{p}: its tokenizer is a sentencepiece model (tokenizer.model); install "
                "sentencepiece (tools/install.sh does)"
            ) from None
    with quiet_loading():
        return AutoTokenizer.from_pretrained(str(p), local_files_only=True)


def build_llm(
    path: str,
    lora: bool = True,
    lora_conf: Dict | None = None,
    dtype: str = "float32",
    gradient_checkpointing: bool = False,
    attn_implementation: str = "sdpa",
) -> PreTrainedModel | PeftModel:
    """Load ``AutoModelForCausalLM`` from ``path``; wrap it with LoRA when ``lora``.

    Args:
        path: local HF model dir (config.json + weights).
        lora: add LoRA adapters (OSUM's defaults, updated by ``lora_conf``).
        dtype: float32, bfloat16 or float16 for the LLM's weights.
        gradient_checkpointing: recompute decoder-layer activations in backward.
        attn_implementation: passed to HF (``sdpa``, ``eager``, ``flash_attention_2``).
    """
    model_dir = check_model_dir(path, "LLM")
    if dtype not in DTYPES:
        raise ValueError(f"llm dtype {dtype!r} unknown; known: {sorted(DTYPES)}")
    with quiet_loading():
        model = AutoModelForCausalLM.from_pretrained(
            str(model_dir),
            dtype=DTYPES[dtype],
            attn_implementation=attn_implementation,
            local_files_only=True,
        )
    model = prepare_llm(model, lora, lora_conf, gradient_checkpointing)
    logger.info(f"LLM loaded from {model_dir} ({dtype}, lora={lora})")
    return model


def prepare_llm(
    model: PreTrainedModel,
    lora: bool = True,
    lora_conf: Dict | None = None,
    gradient_checkpointing: bool = False,
) -> PreTrainedModel | PeftModel:
    """A causal LM as OSUM trains it: no KV cache in training, optional activation
    checkpointing, and LoRA (OSUM's defaults, updated by ``lora_conf``)."""
    if gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    if lora:
        conf = dict(OSUM_LORA, task_type="CAUSAL_LM")
        conf.update(lora_conf or {})
        with quiet_loading():
            model = get_peft_model(model, LoraConfig(**conf))
    return model


def base_model(llm: PreTrainedModel | PeftModel) -> PreTrainedModel:
    """The ``*ForCausalLM`` under a peft wrapper (or the model itself)."""
    return llm.get_base_model() if isinstance(llm, PeftModel) else llm


def decoder_body(llm) -> torch.nn.Module:
    """The transformer stack without the LM head (``Qwen2Model`` for Qwen2)."""
    base = base_model(llm)
    return getattr(base, base.base_model_prefix)


def lora_parameter_names(llm) -> List[str]:
    return [n for n, _ in llm.named_parameters() if "lora_" in n]
