"""Audio: any wav.scp entry read as mono float32 at 16 kHz, its duration and sample rate
from the header, and 16-bit wav written; the one module of osum that reads audio files.

An entry is a file soundfile reads (wav, flac, ogg/opus, mp3, ...), a file only ffmpeg
decodes (mp4 and other containers), or a Kaldi pipe ``command |`` writing wav to stdout.
:func:`read_file` reads files only: a name ending in ``|`` is a file's name there, never
a command run. What cannot be read raises RuntimeError (soundfile's own LibsndfileError
is one), with a message that names the file or the command. A wav file whose samples
stop before its header says they end (a partial copy) is one: libsndfile would read the
part that is there without a word, a whole sentence's transcript on a few milliseconds
of audio.

The bytes of an upload (:func:`decode_audio`) are read within a limit: their length is
taken from the header before any sample is decoded, a sample rate no audio has is
refused, and ffmpeg stops decoding past the limit (and after ``FFMPEG_TIMEOUT``).
"""

import io
import os
import shutil
import struct
import subprocess
import tempfile
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
MIN_RATE, MAX_RATE = 1000, 384000  # Hz: sample rates of uploads outside are refused
UNKNOWN_FRAMES = 2**63 - 1  # libsndfile's frame count of a stream of unknown length
BLOCK = 1 << 16  # frames read (and mixed down) at a time: many channels take one block's memory
FFMPEG_TIMEOUT = 60.0  # seconds ffmpeg may take to decode an upload with a limit
WAV_BYTES_PER_SECOND = SAMPLE_RATE * 2  # ffmpeg's output: 16-bit mono at 16 kHz


class AudioTooLong(ValueError):
    """Audio longer than the ``limit`` (seconds) it was read with: ``seconds`` of it (from
    its header), or, where ``at_least``, at least that much (the decoding stopped there)."""

    def __init__(self, what: str, seconds: float, limit: float, at_least: bool = False):
        more = "at least " if at_least else ""
        super().__init__(f"{what}: {more}{seconds:.1f} s of audio, over the limit of {limit:g} s")
        self.what, self.seconds, self.limit, self.at_least = what, seconds, limit, at_least


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


def _decode(entry: str, pipes: bool = True) -> Tuple[np.ndarray, int]:
    """(samples x channels float32, rate) of a wav.scp entry; ``pipes=False``: of a file,
    whatever its name (``x |`` too)."""
    if pipes and entry.endswith("|"):  # a Kaldi pipe: the command writes audio (wav) to stdout
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
        # a file only: "file:" keeps ffmpeg from reading a name as a protocol (pipe:, concat:)
        source = entry if pipes else "file:" + os.path.abspath(entry)
        return _decode_bytes(_run(_ffmpeg_cmd(source), False, "ffmpeg"), f"ffmpeg on {entry}")


def _ffmpeg_cmd(source: str, seconds: float | None = None) -> list:
    """ffmpeg writing ``source``'s audio as 16 kHz mono wav to stdout; ``seconds``: at
    most that much, in a file of at most its size."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", source, "-vn", "-ac", "1"]
    cmd += ["-ar", str(SAMPLE_RATE)]
    if seconds is not None:
        size = int(seconds * WAV_BYTES_PER_SECOND) + 4096  # the samples and a header
        cmd += ["-t", f"{seconds:g}", "-fs", str(size)]
    return cmd + ["-f", "wav", "-"]


def _to_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono samples at ``rate`` resampled to 16 kHz."""
    if rate == SAMPLE_RATE:
        return audio
    import torchaudio

    return torchaudio.functional.resample(torch.from_numpy(audio), rate, SAMPLE_RATE).numpy()


class _NotRead(Exception):
    """Bytes soundfile does not read (or not whole: a stream of unknown length)."""


def _read_mono(data: bytes, what: str, max_seconds: float | None) -> Tuple[np.ndarray, int]:
    """(mono float32 samples, rate) of bytes soundfile reads, a block at a time, refusing
    what the header says is no audio (RuntimeError) or too long (:class:`AudioTooLong`)
    before decoding it; :class:`_NotRead` for what soundfile does not read."""
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as f:
            rate, frames = f.samplerate, f.frames
            if not MIN_RATE <= rate <= MAX_RATE:
                raise RuntimeError(
                    f"{what}: a sample rate of {rate} Hz is not audio this reads "
                    f"({MIN_RATE} to {MAX_RATE} Hz)"
                )
            if frames >= UNKNOWN_FRAMES:
                raise _NotRead(f"{what}: a stream of unknown length")
            cap = -1
            if max_seconds is not None:
                if frames / rate > max_seconds:
                    raise AudioTooLong(what, frames / rate, max_seconds)
                cap = int(max_seconds * rate) + 1  # a header that undercounts: caught reading
            f.seek(0)  # as soundfile.read does: libsndfile's mp3 samples differ by a hair without
            blocks, read = [], 0
            while cap < 0 or read < cap:
                block = f.read(BLOCK if cap < 0 else min(BLOCK, cap - read), "float32", True)
                if not len(block):
                    break
                blocks.append(block.mean(axis=1))
                read += len(block)
    except soundfile.LibsndfileError as e:
        raise _NotRead(f"{what}: not audio soundfile reads ({e})") from None
    if max_seconds is not None and read / rate > max_seconds:
        raise AudioTooLong(what, read / rate, max_seconds, at_least=True)
    return (np.concatenate(blocks) if blocks else np.zeros(0, np.float32)), rate


def _ffmpeg_wav(data: bytes, what: str, max_seconds: float | None) -> bytes:
    """ffmpeg's 16 kHz mono wav of ``data``; with ``max_seconds``, at most a second more
    than that, decoded in at most ``FFMPEG_TIMEOUT`` s.

    ffmpeg reads a file, not a pipe: an mp4 or m4a whose index comes after its samples (as
    ffmpeg and phones write them) needs to seek; from a pipe it decodes to nothing."""
    with tempfile.NamedTemporaryFile(prefix="osum_upload_") as scratch:
        scratch.write(data)  # not atomic: a scratch copy for ffmpeg, deleted after
        scratch.flush()
        return _ffmpeg_file_wav(scratch.name, what, max_seconds)


def _ffmpeg_file_wav(path: str, what: str, max_seconds: float | None) -> bytes:
    # decoding stops a second past the limit: more than the limit is too long
    seconds = None if max_seconds is None else max_seconds + 1
    cmd = _ffmpeg_cmd(f"file:{path}", seconds)
    timeout = None if max_seconds is None else FFMPEG_TIMEOUT
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{what}: ffmpeg took over {timeout:g} s to decode it") from None
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(f"{what}: not audio that soundfile or ffmpeg reads")
    return proc.stdout


def decode_audio(data: bytes, what: str, max_seconds: float | None = None) -> np.ndarray:
    """Mono float32 16 kHz samples of an audio file's bytes (an upload): what soundfile
    reads, else what ffmpeg decodes (webm, mp4 ...). RuntimeError naming
    ``what`` for bytes that are no audio either reads, or a sample rate outside
    ``MIN_RATE``..``MAX_RATE`` Hz.

    ``max_seconds``: :class:`AudioTooLong` (a ValueError) for audio longer, known from the
    header before decoding where soundfile reads it; ffmpeg decodes at most a second past
    it, in at most ``FFMPEG_TIMEOUT`` s. None: no limit."""
    try:
        audio, rate = _read_mono(data, what, max_seconds)
    except _NotRead as e:
        if shutil.which("ffmpeg") is None:
            raise RuntimeError(f"{e}; {FFMPEG_HINT}") from None
        try:
            audio, rate = _read_mono(_ffmpeg_wav(data, what, max_seconds), what, max_seconds)
        except _NotRead:
            raise RuntimeError(f"{what}: not audio that soundfile or ffmpeg reads") from None
        except AudioTooLong as long:  # ffmpeg stopped a second past the limit
            raise AudioTooLong(what, long.seconds, long.limit, at_least=True) from None
    return np.ascontiguousarray(_to_rate(audio, rate), dtype=np.float32)


def is_pipe(entry: str) -> bool:
    return entry.rstrip().endswith("|")


class AudioReader:
    """Mono float32 16 kHz audio of ``wav.scp`` entries, optionally a segment of them.

    An entry is a file soundfile reads (wav, flac, ogg/opus, mp3, ...), a file only
    ffmpeg decodes (mp4 and other containers), or a Kaldi pipe ``command |`` writing wav
    to stdout. The last recording read is kept, so the segments of one recording (which
    sort together) decode it once, as Kaldi's ``extract-segments`` does. ``pipes=False``:
    every entry is a file, one whose name ends in ``|`` too (:func:`read_file`).
    """

    def __init__(self, pipes: bool = True):
        self.pipes = pipes
        self._entry: str | None = None
        self._audio: np.ndarray | None = None

    def __call__(self, entry: str, start: float = 0.0, end: float | None = None) -> np.ndarray:
        if entry != self._entry:
            self._entry, self._audio = None, None
            audio, rate = _decode(entry, self.pipes)
            self._entry, self._audio = entry, _to_rate(audio.mean(axis=1), rate)
        first = int(round(start * SAMPLE_RATE))
        last = None if end is None or end < 0 else int(round(end * SAMPLE_RATE))
        return self._audio[first:last]


def read_audio(entry: str, start: float = 0.0, end: float | None = None) -> np.ndarray:
    """Mono float32 at 16 kHz of one wav.scp entry (see :class:`AudioReader`)."""
    return AudioReader()(entry, start, end)


def read_file(path: str) -> np.ndarray:
    """Mono float32 at 16 kHz of one audio file, as :func:`read_audio` reads it (a wav cut
    short refused, a container decoded by ffmpeg), but never a command: a name ending in
    ``|`` is a file's name (for names from outside: a user's command line, a request)."""
    return AudioReader(pipes=False)(path)


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
