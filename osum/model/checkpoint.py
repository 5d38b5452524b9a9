"""Reading weights from HF model dirs without unpickling code and without the whole model."""

import json
import pickle
from pathlib import Path
from typing import Dict, Iterable, Mapping

import torch
from safetensors import SafetensorError, safe_open

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# an exported model's dir (osum.convert.export): its config (paths relative to the dir),
# its weights but the LLM's, and the LLM's dir
CONFIG, WEIGHTS, LLM_DIR = "config.yaml", "model.safetensors", "llm"
INDEX_FILES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


class CheckpointError(ValueError, RuntimeError):
    """A model file that is not a whole checkpoint, or not one of this model; the message
    names the file. A ValueError (a user's input, for the commands' one-line errors) and
    a RuntimeError (what torch raises for these, and what callers caught before)."""


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


def load_model_file(path, device: str = "cpu") -> Dict[str, torch.Tensor]:
    """A state dict from ``.safetensors`` or a ``torch.save`` file, never unpickling
    code (``weights_only``: a pickle that would run code raises pickle.UnpicklingError).
    A file cut short or otherwise not a whole checkpoint raises :class:`CheckpointError`
    naming it."""
    try:
        if str(path).endswith(".safetensors"):
            from safetensors.torch import load_file

            return load_file(str(path), device=device)
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        raise pickle.UnpicklingError(f"{path}: {e}") from None
    except (RuntimeError, EOFError, SafetensorError) as e:
        why = str(e).strip()
        if isinstance(e, RuntimeError) and "zip archive" not in why:
            raise RuntimeError(f"{path}: {why}") from None  # not the file's (a device, ...)
        raise CheckpointError(
            f"{path}: not a whole checkpoint, cut short or corrupt "
            f"({why.split('. ')[0] or type(e).__name__}); copy it again"
        ) from None


def first_shape_mismatch(
    state: Mapping[str, torch.Tensor], model: torch.nn.Module, path, model_from: str = ""
) -> str | None:
    """The first tensor of ``state`` whose shape differs from the model's parameter of
    that name, said in a message naming ``path`` and both shapes; None when all fit.
    ``model_from``: where the model's sizes come from (its config), for the message."""
    own = torch.nn.Module.state_dict(model)  # every weight, base ones included
    bad = [k for k, v in state.items() if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if not bad:
        return None
    k = bad[0]
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    sizes = f" built from {model_from}" if model_from else ""
    return (
        f"{path}: parameter {k} is {list(state[k].shape)} in the file but "
        f"{list(own[k].shape)} in the model{sizes}{more}: a checkpoint of another model "
        "size or configuration"
    )


def load_pretrained_model(
    init_param: str, model: torch.nn.Module, ignore_init_mismatch: bool, map_location="cpu"
):
    """ESPnet's ``--init_param`` loading (``path:src_key:dst_key:exclude,prefixes``, the
    file's tensors merged into the model's state dict), reading the file with
    :func:`load_model_file`: ESPnet's own loader unpickles whatever the file holds."""
    from espnet2.torch_utils.load_pretrained_model import filter_state_dict

    path, src_key, dst_key, excludes = (init_param.split(":", 3) + [None] * 3)[:4]
    src_key, dst_key, excludes = src_key or None, dst_key or None, excludes or None
    obj = model
    for name in (dst_key or "").split("."):
        if name:
            obj = getattr(obj, name)
    src = load_model_file(path, map_location)
    if "module" in src and isinstance(src["module"], dict):
        src = src["module"]
    for prefix in (excludes or "").split(","):
        if prefix:
            src = {k: v for k, v in src.items() if not k.startswith(prefix)}
    if src_key is not None:
        src = {k[len(src_key) + 1 :]: v for k, v in src.items() if k.startswith(src_key + ".")}
    dst = obj.state_dict()
    if ignore_init_mismatch:  # against every weight: the model's state_dict leaves base ones out
        src = filter_state_dict(torch.nn.Module.state_dict(obj), src)
    else:
        where = f" ({dst_key})" if dst_key else ""
        bad = first_shape_mismatch(src, obj, f"--init_param {path}", f"the config{where}")
        if bad is not None:
            raise CheckpointError(bad + " (--ignore_init_mismatch true skips such tensors)")
    dst.update(src)
    obj.load_state_dict(dst)


class LazyTensors:
    """The tensors of an HF model dir, read one at a time by name (safetensors opened on
    demand; ``.bin`` shards memory-mapped)."""

    def __init__(self, model_dir):
        self.files: Dict[str, Path] = {}
        self._bins: Dict[Path, Dict[str, torch.Tensor]] = {}
        for f in _weight_files(Path(model_dir)):
            if f.suffix == ".safetensors":
                with safe_open(str(f), framework="pt", device="cpu") as sf:
                    self.files.update({k: f for k in sf.keys()})
            else:
                self._bins[f] = torch.load(f, map_location="cpu", mmap=True, weights_only=True)
                self.files.update({k: f for k in self._bins[f]})

    def __contains__(self, name: str) -> bool:
        return name in self.files

    def get(self, name: str) -> torch.Tensor:
        f = self.files[name]
        if f in self._bins:
            return self._bins[f][name]
        with safe_open(str(f), framework="pt", device="cpu") as sf:
            return sf.get_tensor(name)


def is_export(path) -> bool:
    """Whether ``path`` is a dir written by :func:`osum.convert.export.export_model`."""
    p = Path(path)
    return p.is_dir() and (p / CONFIG).is_file() and (p / WEIGHTS).is_file()
