"""Audio: any wav.scp entry read as mono float32 at 16 kHz, its duration and sample rate
from the header, and 16-bit wav written; the one module of osum that reads audio files.

An entry is a file soundfile reads (wav, flac, ogg/opus, mp3, ...), a file only ffmpeg
decodes (mp4 and other containers), or a Kaldi pipe ``command |`` writing wav to stdout.
What cannot be read raises RuntimeError (soundfile's own LibsndfileError is one), with
a message that names the file or the command. A wav file whose samples stop before its
header says they end (a partial copy) is one: libsndfile would read the part that is
there without a word, a whole sentence's transcript on a few milliseconds of audio.
"""

import io
import os
import shutil
import struct
import subprocess
from pathlib import Path
from typing import NamedTuple, Tuple

import numpy as np
import soundfile
import torch

from osum.model.frontend import SAMPLE_RATE

FFMPEG_HINT = "install ffmpeg (tools/install.sh does) to read it"
# containers libsndfile does not read: their audio is decoded by ffmpeg, their length measured so
CONTAINERS = (".mp4", ".m4a", ".webm", ".mkv")
# a RIFF data size this large (0xFFFFFFFF from ffmpeg, about that from other streaming
# writers) or 0 means "unknown": the writer could not seek back to fill it in
STREAMED_SIZE = 0x7FFFF000
SHORTFALL_SECONDS = 0.01  # a wav missing less than this of its declared samples is kept


def wav_cut_short(path) -> str | None:
    """Why the RIFF/WAVE file ``path`` is cut short, or None: the size its ``data`` chunk
    declares against the bytes the file holds after it. None as well for what is not a
    RIFF wav (RF64, flac, ...) or has no size to compare (a streamed header)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WAVE":
            return None
        pos, byte_rate = 12, 0
        while pos + 8 <= size:
            f.seek(pos)
            chunk, n = struct.unpack("<4sI", f.read(8))
            if chunk == b"fmt ":
                fmt = f.read(min(n, 16))
                byte_rate = struct.unpack("<I", fmt[8:12])[0] if len(fmt) >= 12 else 0
            elif chunk == b"data":
                have = size - pos - 8
                if n == 0 or n >= STREAMED_SIZE or byte_rate <= 0:
                    return None
                if n - have <= SHORTFALL_SECONDS * byte_rate:
                    return None
                return (
                    f"{path}: cut short: its header declares {n} bytes of samples "
                    f"({n / byte_rate:.2f} s) but the file holds {max(have, 0)} "
                    f"({max(have, 0) / byte_rate:.2f} s): a partial copy?"
                )
            pos += 8 + n + (n & 1)  # chunks are padded to an even size
    return None


def _decode_bytes(data: bytes, what: str) -> Tuple[np.ndarray, int]:
    try:
        return soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise RuntimeError(f"{what}: output is not audio soundfile reads ({e})") from None


def _run(cmd, shell: bool, what: str) -> bytes:
    proc = subprocess.run(cmd, shell=shell, capture_output=True)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        hint = ": the command is not installed" if proc.returncode == 127 else ""
        raise RuntimeError(f"{what} failed (exit {proc.returncode}): {' / '.join(err[-3:])}{hint}")
    return proc.stdout


def _decode(entry: str) -> Tuple[np.ndarray, int]:
    """(samples x channels float32, rate) of a wav.scp entry."""
    if entry.endswith("|"):  # a Kaldi pipe: the command writes audio (wav) to stdout
        cmd = entry[:-1].strip()
        return _decode_bytes(_run(cmd, True, f"command '{cmd}'"), f"command '{cmd}'")
    if os.path.isfile(entry):
        why = wav_cut_short(entry)
        if why is not None:
            raise RuntimeError(why)
    try:
        return soundfile.read(entry, dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        # containers libsndfile does not read (mp4, m4a, webm, ...): ffmpeg decodes them
        if shutil.which("ffmpeg") is None:
            raise RuntimeError(f"{e}; {FFMPEG_HINT}") from None
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", entry, "-vn", "-ac", "1"]
        cmd += ["-ar", str(SAMPLE_RATE), "-f", "wav", "-"]
        return _decode_bytes(_run(cmd, False, "ffmpeg"), f"ffmpeg on {entry}")


def decode_audio(data: bytes, what: str) -> np.ndarray:
    """Mono float32 16 kHz samples of an audio file's bytes (an upload): what soundfile
    reads, else what ffmpeg decodes from stdin (webm, mp4 ...). RuntimeError naming
    ``what`` for bytes that are no audio either reads."""
    try:
        audio, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as e:
        if shutil.which("ffmpeg") is None:
            raise RuntimeError(f"{what}: not audio soundfile reads ({e}); {FFMPEG_HINT}") from None
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", "-vn", "-ac", "1"]
        cmd += ["-ar", str(SAMPLE_RATE), "-f", "wav", "-"]
        proc = subprocess.run(cmd, input=data, capture_output=True)
        if proc.returncode != 0 or not proc.stdout:
            raise RuntimeError(f"{what}: not audio that soundfile or ffmpeg reads") from None
        audio, rate = _decode_bytes(proc.stdout, what)
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        import torchaudio

        audio = torchaudio.functional.resample(torch.from_numpy(audio), rate, SAMPLE_RATE).numpy()
    return np.ascontiguousarray(audio, dtype=np.float32)


def is_pipe(entry: str) -> bool:
    return entry.rstrip().endswith("|")


class AudioReader:
    """Mono float32 16 kHz audio of ``wav.scp`` entries, optionally a segment of them.

    An entry is a file soundfile reads (wav, flac, ogg/opus, mp3, ...), a file only
    ffmpeg decodes (mp4 and other containers), or a Kaldi pipe ``command |`` writing wav
    to stdout. The last recording read is kept, so the segments of one recording (which
    sort together) decode it once, as Kaldi's ``extract-segments`` does.
    """

    def __init__(self):
        self._entry: str | None = None
        self._audio: np.ndarray | None = None

    def __call__(self, entry: str, start: float = 0.0, end: float | None = None) -> np.ndarray:
        if entry != self._entry:
            self._entry, self._audio = None, None
            audio, rate = _decode(entry)
            audio = audio.mean(axis=1)
            if rate != SAMPLE_RATE:
                import torchaudio

                audio = torchaudio.functional.resample(
                    torch.from_numpy(audio), rate, SAMPLE_RATE
                ).numpy()
            self._entry, self._audio = entry, audio
        first = int(round(start * SAMPLE_RATE))
        last = None if end is None or end < 0 else int(round(end * SAMPLE_RATE))
        return self._audio[first:last]


def read_audio(entry: str, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Mono float32 at 16 kHz of one wav.scp entry (see :class:`AudioReader`)."""
    return AudioReader()(entry, start, end)


class AudioInfo(NamedTuple):
    duration: float  # seconds
    sample_rate: int  # Hz


def audio_info(path) -> AudioInfo:
    """Duration and sample rate from the header of a file soundfile reads, without
    decoding it. Raises RuntimeError (soundfile's LibsndfileError) when the file is
    missing, not audio soundfile reads, or a wav cut short (:func:`wav_cut_short`)."""
    why = wav_cut_short(path) if os.path.isfile(path) else None
    if why is not None:
        raise RuntimeError(why)
    info = soundfile.info(str(path))
    return AudioInfo(info.duration, info.samplerate)


def entry_duration(entry: str, reader: AudioReader | None = None) -> float:
    """Seconds of a wav.scp entry: from the file's header, or, for a pipe or a container
    only ffmpeg reads (no header soundfile reads), the length of its decoded audio
    (``reader``: an :class:`AudioReader` to decode with). Raises RuntimeError."""
    if is_pipe(entry) or entry.endswith(CONTAINERS):
        return len((reader or AudioReader())(entry)) / SAMPLE_RATE
    return audio_info(entry).duration


def write_wav(path: Path, audio: np.ndarray) -> None:
    """``audio`` (mono, at 16 kHz) as a 16-bit wav file (whatever the name's suffix: a
    temporary name of :func:`osum.files.atomic_path` too)."""
    # not atomic: the callers give a temporary name (atomic_path)
    soundfile.write(path, audio, SAMPLE_RATE, subtype="PCM_16", format="WAV")
