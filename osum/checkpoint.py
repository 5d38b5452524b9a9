"""Reading weights from HF model dirs without unpickling code and without the whole model."""

import json
from pathlib import Path
from typing import Dict, Iterable

import torch
from safetensors import safe_open

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


def _weight_files(model_dir: Path):
    for name in INDEX_FILES:
        index = model_dir / name
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return [model_dir / s for s in shards]
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return [model_dir / name]
    raise FileNotFoundError(
        f"{model_dir}: no weights found (expected one of {WEIGHT_FILES + INDEX_FILES})"
    )


def load_hf_state_dict(model_dir: Path, prefixes: Iterable[str]) -> Dict[str, torch.Tensor]:
    """Tensors of an HF model dir whose names start with one of ``prefixes``, prefix removed.

    Safetensors shards are opened lazily so only the selected tensors are read;
    ``.bin`` files are loaded with ``weights_only=True``.
    """
    prefixes = tuple(prefixes)
    out: Dict[str, torch.Tensor] = {}

    def strip(key: str):
        for prefix in prefixes:
            if key.startswith(prefix):
                return key[len(prefix) :]
        return None

    for f in _weight_files(Path(model_dir)):
        if f.suffix == ".safetensors":
            with safe_open(str(f), framework="pt", device="cpu") as sf:
                for key in sf.keys():
                    name = strip(key)
                    if name is not None:
                        out[name] = sf.get_tensor(key)
        else:
            for key, value in torch.load(f, map_location="cpu", weights_only=True).items():
                name = strip(key)
                if name is not None:
                    out[name] = value
    if not out:
        raise ValueError(f"{model_dir}: no tensor names start with any of {prefixes}")
    return out
