"""How ESPnet's trainer and its model averaging write and read checkpoints, made safe.

ESPnet's ``Trainer`` writes ``checkpoint.pth`` and ``<N>epoch.pth`` with ``torch.save``
straight to their names, and reads them back (``--resume``, the n-best average) with
``torch.load(weights_only=False)``, which unpickles whatever the file holds. Both modules
are given a ``torch`` whose

- ``save`` to a path writes a temporary name and renames it (:mod:`osum.files`): a kill
  or a full disk during the write leaves the previous file whole, never a torn one that
  a resumed run would read. ``checkpoint.pth`` of epoch N is written after
  ``<N>epoch.pth``, so a checkpoint never names an epoch whose model file is missing
  (ESPnet writes them the other way round, and a kill in between left a resume that
  failed at the average);
- ``load`` reads tensors and plain data only (``weights_only=True``); the few non-tensor
  types of ESPnet's checkpoints (numpy scalars and times in the reporter's statistics) are allowed
  by name. A checkpoint that holds anything else is refused, not run.

Everything else is the real ``torch``.
"""

import datetime
import os
import types

import numpy as np
import torch

from osum.files import atomic_path

# what ESPnet's reporter keeps in its statistics besides Python numbers: numpy scalars
# and the epochs' times
SAFE_GLOBALS = [
    datetime.timedelta,
    np._core.multiarray.scalar,
    np.dtype,
    *{type(np.dtype(t)) for t in ("float64", "float32", "int64", "int32", "bool")},
]


# <N>epoch.pth written ahead of its checkpoint -> the state dict written there: ESPnet's
# own save of that same dict right after is not done twice
_AHEAD = {}


def save(obj, f, *args, **kwargs):
    """``torch.save`` that writes a path atomically; an ESPnet checkpoint of epoch N
    (a dict with its model and reporter) is preceded by that epoch's model file."""
    if not isinstance(f, (str, os.PathLike)):
        return torch.save(obj, f, *args, **kwargs)  # not atomic: the caller's file object
    path = os.fspath(f)
    if _AHEAD.pop(path, None) is obj:
        return None  # written, whole, just before its checkpoint
    if os.path.basename(path) == "checkpoint.pth" and isinstance(obj, dict):
        epoch = (obj.get("reporter") or {}).get("epoch")
        if isinstance(epoch, int) and epoch > 0 and "model" in obj:
            ahead = os.path.join(os.path.dirname(path), f"{epoch}epoch.pth")
            save(obj["model"], ahead)
            _AHEAD.clear()
            _AHEAD[ahead] = obj["model"]
    with atomic_path(path) as tmp:
        torch.save(obj, tmp, *args, **kwargs)
    return None


def load(f, *args, weights_only=None, **kwargs):
    """``torch.load`` of tensors and plain data only, whatever the caller asked for."""
    with torch.serialization.safe_globals(SAFE_GLOBALS):
        return torch.load(f, *args, weights_only=True, **kwargs)


class _Torch(types.ModuleType):
    """``torch`` with :func:`save` and :func:`load` in place of its own."""

    save = staticmethod(save)
    load = staticmethod(load)

    def __getattr__(self, name):
        return getattr(torch, name)


def install() -> None:
    """Give ESPnet's trainer and its n-best averaging the safe ``torch`` (idempotent)."""
    import espnet2.main_funcs.average_nbest_models as average
    import espnet2.train.trainer as trainer

    for module in (trainer, average):
        if not isinstance(module.torch, _Torch):
            module.torch = _Torch("torch")
