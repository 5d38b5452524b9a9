"""Decoding audio files by name (``osum.bin.decode_files``): one record per file, in order.

    s2t = Speech2Text("exp/osum/export")
    for done in decode_files(s2t, ["a.wav", "b.flac", "c.mp4"], task="SER"):
        print(done.record if done.error is None else f"{done.path}: {done.error}")

A file is any audio soundfile or ffmpeg reads (:func:`osum.data.audio.read_file`), and
only a file: a name ending in ``|`` is a file's name, never a Kaldi pipe command run.
Files are read a group at a time (at most ``group`` files and ``group_seconds`` of
audio), so that thousands of files take the memory of one group; each group is decoded
in batches of the model's ``batch_size``. A file that cannot be read, is too short or is
not finite gives its reason instead of a record, and the others are decoded. A group
whose decoding fails (out of memory on a late, long group) is decoded again a file at a
time, and a file that still fails gives the error as its reason: a run goes to its end.
KeyboardInterrupt is not caught: it ends the run.
"""

import errno
import logging
import os
from typing import Iterator, List, NamedTuple, Sequence

import numpy as np
import torch

from osum.data.audio import read_file
from osum.decode.speech2text import SAMPLE_RATE, Result, Speech2Text

GROUP = 32  # files read and decoded together
GROUP_SECONDS = 1800.0  # a group ends once its audio reaches this much (memory)

logger = logging.getLogger(__name__)


class Decoded(NamedTuple):
    """One file's outcome: its record (:func:`to_record`), or why it has none."""

    path: str
    record: dict | None
    error: str | None


def to_record(path: str, result: Result, duration: float) -> dict:
    """What a file's decoding gives, as a JSON object: the raw text and its fields.
    ``duration``: seconds of the file's audio."""
    return {"file": path, **result.record(duration)}


def load_file(s2t: Speech2Text, path: str) -> torch.Tensor:
    """The prepared 16 kHz waveform of one audio file. OSError or ValueError (with a
    reason that does not repeat the path) when it is no file, cannot be read, is too
    short or holds NaN or inf samples."""
    if not os.path.isfile(path):
        reason = "is not a file" if os.path.exists(path) else os.strerror(errno.ENOENT)
        raise FileNotFoundError(reason)
    try:
        samples = read_file(path)
    except RuntimeError as e:  # soundfile's LibsndfileError too
        why = " ".join(str(e).split()).removeprefix(f"{path}: ")
        raise ValueError(f"cannot read its audio: {why}") from None
    wave = s2t.prepare(samples, SAMPLE_RATE, path)
    if not bool(np.isfinite(wave.numpy()).all()):
        raise ValueError("NaN or inf samples")
    return wave


def decode_files(
    s2t: Speech2Text,
    paths: Sequence[str],
    task: str = "ASR",
    question: str | None = None,
    group: int = GROUP,
    group_seconds: float = GROUP_SECONDS,
) -> Iterator[Decoded]:
    """Decode each of ``paths`` with ``task`` (and ``question``, put after the task's
    prompt), yielding one :class:`Decoded` per path, in the order given."""
    if task not in s2t.registry:
        raise ValueError(f"unknown task {task!r}; known: {', '.join(s2t.registry)}")
    pending: List[tuple] = []  # (path, wave or None, error or None)
    seconds = 0.0
    for path in paths:
        try:
            wave, error = load_file(s2t, path), None
        except (OSError, ValueError) as e:
            wave, error = None, str(e).removeprefix(f"utterance {path}: ")
        pending.append((path, wave, error))
        seconds += 0 if wave is None else len(wave) / SAMPLE_RATE
        if len(pending) >= group or seconds >= group_seconds:
            yield from _decode_group(s2t, pending, task, question)
            pending, seconds = [], 0.0
    yield from _decode_group(s2t, pending, task, question)


def _decode_group(
    s2t: Speech2Text, pending: List[tuple], task: str, question: str | None
) -> Iterator[Decoded]:
    waves = [w for _, w, _ in pending if w is not None]
    outcomes = _decode_waves(s2t, waves, task, question)
    for path, wave, error in pending:
        if wave is None:
            yield Decoded(path, None, error)
            continue
        result = next(outcomes)
        if isinstance(result, str):
            yield Decoded(path, None, result)
        else:
            yield Decoded(path, to_record(path, result, len(wave) / SAMPLE_RATE), None)


def _decode_waves(
    s2t: Speech2Text, waves: List[torch.Tensor], task: str, question: str | None
) -> Iterator[Result | str]:
    """A Result per wave, decoded together; where that fails, each alone (a str: the
    error of one that fails alone too)."""
    if not waves:
        return iter([])
    try:
        return iter(s2t.decode_batch(waves, [task] * len(waves), [question] * len(waves)))
    except Exception as e:  # any decoding error: the files are decoded again, alone
        failure = failed(e)
    # out of the except block: its traceback, holding the batch's tensors, is let go
    if len(waves) == 1:
        return iter([failure])
    logger.warning(f"{len(waves)} files together: {failure}; decoding them one at a time")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return (_decode_alone(s2t, w, task, question) for w in waves)


def _decode_alone(s2t: Speech2Text, wave: torch.Tensor, task: str, question: str | None):
    """The Result of one wave, or why its decoding failed (a str)."""
    try:
        return s2t.decode_batch([wave], [task], [question])[0]
    except Exception as e:
        return failed(e)


def failed(e: Exception) -> str:
    """A decoding error as a file's reason: its type and message, on one line."""
    return f"decoding failed: {type(e).__name__}: {' '.join(str(e).split())}".rstrip(": ")
