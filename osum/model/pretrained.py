"""The pretrained models a recipe names (osum.sh's ``--encoder_init``, ``--llm_path``), checked
before any training starts: each problem names the option, the path and what was expected
there."""

import json
from pathlib import Path
from typing import List

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def check_encoder_init(path: str) -> List[str]:
    """An HF Whisper dir (``save_pretrained``) or an openai-whisper ``.pt`` file."""
    p = Path(path)
    if p.is_file():
        return []
    expected = (
        "expected an HF Whisper dir (config.json and weights, from save_pretrained) or an "
        "openai-whisper .pt file"
    )
    if not p.is_dir() or not (p / "config.json").is_file():
        return [f"encoder_init={path}: {expected}"]
    model_type = json.loads((p / "config.json").read_text()).get("model_type")
    if model_type != "whisper":
        return [f"encoder_init={path}: its config.json is a {model_type!r} model; {expected}"]
    return []


def check_llm_path(path: str) -> List[str]:
    """An HF causal LM dir: config.json, its weights and its tokenizer."""
    p = Path(path)
    if (p / "config.json").is_file() and any((p / f).is_file() for f in TOKENIZER_FILES):
        return []
    return [
        f"llm_path={path}: expected an HF causal LM dir: config.json, its weights "
        f"(*.safetensors) and its tokenizer (one of {', '.join(TOKENIZER_FILES)})"
    ]


def check_pretrained(encoder_init: str | None = None, llm_path: str | None = None) -> List[str]:
    """Every problem of the models given (none given: nothing to check)."""
    errors = check_encoder_init(encoder_init) if encoder_init else []
    return errors + (check_llm_path(llm_path) if llm_path else [])
