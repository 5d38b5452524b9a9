"""Decoding audio files by name (``osum.bin.decode_files``): one record per file, in order.

    s2t = Speech2Text("exp/osum/export")
    for done in decode_files(s2t, ["a.wav", "b.flac", "c.mp4"], task="SER"):
        print(done.record if done.error is None else f"{done.path}: {done.error}")

A file is any audio soundfile or ffmpeg reads (:func:`osum.data.audio.read_audio`), but
only a plain file: a name ending in ``|`` is never run as a Kaldi pipe command. Files are
read a group at a time (at most ``group`` files and ``group_seconds`` of audio), so that
thousands of files take the memory of one group; each group is decoded in batches of
the model's ``batch_size``. A file that cannot be read, is too short or is not finite
gives its reason instead of a record, and the others are decoded.
"""

import errno
import os
from typing import Iterator, List, NamedTuple, Sequence

import numpy as np
import torch

from osum.data.audio import read_audio
from osum.decode.speech2text import SAMPLE_RATE, Result, Speech2Text

GROUP = 32  # files read and decoded together
GROUP_SECONDS = 1800.0  # a group ends once its audio reaches this much (memory)


class Decoded(NamedTuple):
    """One file's outcome: its record (:func:`to_record`), or why it has none."""

    path: str
    record: dict | None
    error: str | None


def to_record(path: str, result: Result, duration: float) -> dict:
    """What a file's decoding gives, as a JSON object: the raw text and its fields.
    ``duration``: seconds of the file's audio."""
    p = result.parsed
    return {
        "file": path,
        "task": result.task,
        "text": result.text,
        "transcript": p.transcript,
        "labels": dict(p.labels),
        "words": [{"word": w, "start": round(s, 3), "end": round(e, 3)} for s, e, w in p.alignment],
        "answer": p.answer,
        "flags": list(p.flags),
        "duration": round(duration, 3),
    }


def load_file(s2t: Speech2Text, path: str) -> torch.Tensor:
    """The prepared 16 kHz waveform of one audio file. OSError or ValueError (with a
    reason that does not repeat the path) when it is no file, cannot be read, is too
    short or holds NaN or inf samples."""
    if not os.path.isfile(path):
        reason = "is not a file" if os.path.exists(path) else os.strerror(errno.ENOENT)
        raise FileNotFoundError(reason)
    try:
        samples = read_audio(path)
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
    n = len(waves)
    results = iter(s2t.decode_batch(waves, [task] * n, [question] * n) if waves else [])
    for path, wave, error in pending:
        if wave is None:
            yield Decoded(path, None, error)
        else:
            yield Decoded(path, to_record(path, next(results), len(wave) / SAMPLE_RATE), None)
