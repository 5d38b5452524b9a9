"""Writes that a later step reads: a temporary name, then a rename.

A kill at any moment leaves either the old file or the whole new one, never half of
one; a full disk fails the write (and removes the temporary file), never the reader.

A full disk is named as one, whatever library did the writing: ``torch.save`` on a full
disk raises ``RuntimeError: [enforce fail at inline_container.cc] ... unexpected pos``,
safetensors ``SafetensorError: ... (os error 28)``, libsndfile ``System error.``, and
Python's own writes an ``OSError`` without the file's name: none says which file or that
the disk is full. :func:`naming_full_disk` (which :func:`atomic_path` applies) turns each
into ``OSError(ENOSPC, ..., path)``.
"""

import errno
import fnmatch
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path

# Fault runs (osum.dev.faults) set a glob: a write to a matching path pauses between its
# temporary file and the rename, so that a kill lands there.
FAILPOINT = os.environ.get("OSUM_FAILPOINT")


@contextmanager
def atomic_path(path):
    """A temporary name beside ``path`` to write to, renamed to ``path`` when the block ends
    without an error (and removed when it does not): a reader never sees half a file. A
    link's target is what is replaced; a device or a pipe is written as it is."""
    path = Path(path)
    if path.is_symlink():  # the file it points to is replaced, not the link
        path = path.resolve()
    if path.exists() and not path.is_file():  # a device (/dev/null, /dev/full), a pipe
        with naming_full_disk(path):
            yield path
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with naming_full_disk(path):
            yield tmp
        if FAILPOINT and fnmatch.fnmatch(str(path.absolute()), FAILPOINT):
            time.sleep(float(os.environ.get("OSUM_FAILPOINT_SECONDS", "3")))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def atomic_open(path, mode="w", encoding="utf-8"):
    """``open(path, mode)`` through :func:`atomic_path`: the file appears, whole, when the
    block ends without an error."""
    binary = "b" in mode
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if binary else encoding) as f:
            yield f


def write_text(path, text: str, encoding="utf-8") -> None:
    """``Path(path).write_text(text)``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def write_bytes(path, data: bytes) -> None:
    """``Path(path).write_bytes(data)``, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


# less free space than this (bytes) where a write just failed: the disk is full
NEARLY_FULL = 1 << 20
_FULL = (errno.ENOSPC, errno.EDQUOT)


@contextmanager
def naming_full_disk(path):
    """Re-raise a failed write under ``path`` (a file or dir) that a full disk caused as
    ``OSError(ENOSPC, ..., path)``; other errors pass unchanged. Enter it inside the block
    that removes a partial file, so that the free space is measured before it is."""
    try:
        yield
    except OSError as e:
        if e.errno in _FULL and e.filename is None:
            raise OSError(e.errno, os.strerror(e.errno), str(path)) from e
        raise
    except Exception as e:  # torch's and safetensors' writers
        if "No space left on device" in str(e) or _free(path) < NEARLY_FULL:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from e
        raise


def _free(path) -> float:
    """Free bytes on the filesystem of ``path`` (or of its nearest existing parent)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return float("inf")
