"""Audio of a request, checked: bytes decoded into the engine's waveform, within the
server's limits, and audio URLs fetched only where allowed.

Every failure is an :class:`~osum.serve.errors.APIError`: 400 for what is no audio, empty,
too short or not finite, 413 for audio longer than ``max_audio_seconds`` or a remote file
larger than the body limit.
"""

import urllib.error
import urllib.request
from dataclasses import dataclass

import numpy as np
import torch
from starlette.concurrency import run_in_threadpool

from osum.data.audio import decode_audio
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
        samples = decode_audio(data, what)
    except (RuntimeError, ValueError) as e:  # soundfile's errors are RuntimeErrors
        raise APIError(400, str(e), code="invalid_audio") from None
    seconds = len(samples) / SAMPLE_RATE
    if seconds > settings.max_audio_seconds:
        raise APIError(
            413,
            f"{what}: {seconds:.1f} s of audio is over this server's limit of "
            f"{settings.max_audio_seconds:g} s",
            code="audio_too_long",
        )
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


class _HttpOnly(urllib.request.HTTPRedirectHandler):
    """Redirects to http(s) only (urllib's own follow ftp too)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not newurl.startswith(("http://", "https://")):
            raise urllib.error.HTTPError(newurl, code, "redirected away from http(s)", headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(url: str, settings: Settings) -> bytes:
    """The bytes of an http(s) URL, at most ``max_body_bytes``, within ``remote_timeout``;
    refused unless the server allows remote URLs."""
    if not settings.allow_remote_urls:
        raise APIError(
            400,
            "audio_url: this server does not fetch remote URLs (started without "
            "--allow_remote_urls); send the audio as base64",
            "messages",
            "remote_urls_disabled",
        )
    limit = settings.max_body_bytes
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "osum-serve"})
        opener = urllib.request.build_opener(_HttpOnly)
        with opener.open(request, timeout=settings.remote_timeout) as r:
            data = r.read(limit + 1)
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise APIError(400, f"{url}: cannot fetch ({e})", "messages", "fetch_failed") from None
    if len(data) > limit:
        raise APIError(413, f"{url}: over the limit of {limit} bytes", "messages", "too_large")
    return data


async def fetch_async(url: str, settings: Settings) -> bytes:
    return await run_in_threadpool(fetch, url, settings)
