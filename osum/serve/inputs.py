"""Audio of a request, checked: bytes decoded into the engine's waveform, within the
server's limits (audio URLs are fetched by :mod:`osum.serve.remote`).

The length is read from the header before any sample is decoded, where soundfile reads
the format; ffmpeg, for the others, stops decoding a second past the limit
(:func:`osum.data.audio.decode_audio`). Every failure is an
:class:`~osum.serve.errors.APIError`: 400 for what is no audio (a sample rate under
1 kHz or over 384 kHz too), empty, too short or not finite, 413 for audio longer than
``max_audio_seconds``.
"""

from dataclasses import dataclass

import numpy as np
import torch
from starlette.concurrency import run_in_threadpool

from osum.data.audio import AudioTooLong, decode_audio
from osum.decode.speech2text import SAMPLE_RATE, Speech2Text
from osum.serve.errors import APIError
from osum.serve.settings import Settings


@dataclass
class Audio:
    wave: torch.Tensor  # (samples,) float32, 16 kHz, mono (Speech2Text.prepare)
    seconds: float


def to_wave(data: bytes, what: str, s2t: Speech2Text, settings: Settings) -> Audio:
    """Decode an upload's bytes (any format soundfile or ffmpeg reads) and check it."""
    if not data:
        raise APIError(400, f"{what}: the file is empty", code="empty_file")
    try:
        samples = decode_audio(data, what, settings.max_audio_seconds)
    except AudioTooLong as e:
        raise APIError(
            413,
            f"{what}: {'at least ' if e.at_least else ''}{e.seconds:.1f} s of audio is over "
            f"this server's limit of {settings.max_audio_seconds:g} s",
            code="audio_too_long",
        ) from None
    except (RuntimeError, ValueError) as e:  # soundfile's errors are RuntimeErrors
        raise APIError(400, str(e), code="invalid_audio") from None
    seconds = len(samples) / SAMPLE_RATE
    if len(samples) and not np.isfinite(samples).all():
        raise APIError(400, f"{what}: samples that are NaN or infinite", code="invalid_audio")
    try:
        wave = s2t.prepare(samples, SAMPLE_RATE, what)
    except ValueError as e:
        raise APIError(400, str(e), code="audio_too_short") from None
    return Audio(wave, seconds)


async def load(data: bytes, what: str, s2t: Speech2Text, settings: Settings) -> Audio:
    """:func:`to_wave` off the event loop (decoding and resampling take a while)."""
    return await run_in_threadpool(to_wave, data, what, s2t, settings)
