"""Reading audio (osum.data.audio): the bytes of an upload within a length limit known
before decoding, sample rates no audio has refused, and files whose names look like
Kaldi pipes read as files, never run."""

import io
import shutil
import struct
import subprocess

import numpy as np
import pytest
import soundfile

from osum.data import audio as audio_module
from osum.data.audio import AudioTooLong, decode_audio, read_audio, read_file


def encoded(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format=fmt, subtype="PCM_16")
    return buf.getvalue()


def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


@pytest.fixture(scope="module")
def webm(tmp_path_factory):
    """A minute of quiet noise in a webm container: only ffmpeg reads it (from a pipe too,
    unlike an mp4 whose index is at its end)."""
    d = tmp_path_factory.mktemp("webm")
    noise = 0.01 * np.random.default_rng(0).standard_normal(60 * 16000)
    soundfile.write(d / "n.wav", noise, 16000, subtype="PCM_16")
    ffmpeg("-i", d / "n.wav", d / "n.webm")
    return d / "n.webm"


def test_the_length_is_read_from_the_header_before_any_sample(monkeypatch):
    """An hour of silence in 180 KB of FLAC is refused without decoding a sample."""
    hour = encoded(np.zeros(3600 * 16000, np.int16), 16000, "FLAC")
    assert len(hour) < 400_000

    def no_reading(*args, **kwargs):
        raise AssertionError("samples decoded before the length was checked")

    monkeypatch.setattr(soundfile.SoundFile, "read", no_reading)
    with pytest.raises(AudioTooLong) as e:
        decode_audio(hour, "upload", max_seconds=600)
    assert (e.value.seconds, e.value.limit, e.value.at_least) == (3600, 600, False)
    assert "upload: 3600.0 s of audio, over the limit of 600 s" == str(e.value)


def test_within_the_limit_the_samples_are_those_without_one():
    rng = np.random.default_rng(1)
    stereo = (0.1 * rng.standard_normal((44100 * 3, 2))).astype(np.float32)
    data = encoded(stereo, 44100, "FLAC")
    whole = decode_audio(data, "stereo")
    assert np.array_equal(decode_audio(data, "stereo", max_seconds=3.0), whole)
    assert len(whole) == 3 * 16000 and whole.dtype == np.float32
    with pytest.raises(AudioTooLong, match="over the limit of 2.9 s"):
        decode_audio(data, "stereo", max_seconds=2.9)


@pytest.mark.parametrize("rate", [1, 999, 384001, 10_000_000])
def test_a_sample_rate_no_audio_has_is_refused(rate):
    """A 4 KB wav whose header says 1 Hz would be resampled x16000 (an hour of samples)."""
    data = bytearray(encoded(np.zeros(2000, np.int16), 8000, "WAV"))
    data[24:32] = struct.pack("<II", rate, 2 * rate)  # the fmt chunk's rates
    with pytest.raises(RuntimeError, match=f"a sample rate of {rate} Hz"):
        decode_audio(bytes(data), "odd", max_seconds=600)
    with pytest.raises(RuntimeError, match="1000 to 384000 Hz"):
        decode_audio(bytes(data), "odd")


def test_ffmpeg_stops_a_second_past_the_limit(webm):
    data = webm.read_bytes()
    with pytest.raises(AudioTooLong) as e:
        decode_audio(data, "n.webm", max_seconds=2)
    assert e.value.at_least and 2 < e.value.seconds <= 3.05, e.value.seconds
    assert str(e.value).startswith("n.webm: at least 3.0 s of audio, over the limit of 2 s")
    assert abs(len(decode_audio(data, "n.webm", max_seconds=61)) / 16000 - 60) < 0.1


def test_ffmpeg_has_a_deadline(webm, monkeypatch):
    monkeypatch.setattr(audio_module, "FFMPEG_TIMEOUT", 0.001)
    with pytest.raises(RuntimeError, match="n.webm: ffmpeg took over 0.001 s"):
        decode_audio(webm.read_bytes(), "n.webm", max_seconds=600)


def test_a_stream_of_unknown_length_is_decoded_by_ffmpeg(tmp_path):
    """FLAC written to a pipe has no length in its header; soundfile cannot read it whole."""
    samples = (np.random.default_rng(2).standard_normal(16000) * 3000).astype(np.int16)
    soundfile.write(tmp_path / "a.wav", samples, 16000)
    streamed = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", tmp_path / "a.wav", "-f", "flac", "-"],
        capture_output=True,
        check=True,
    ).stdout
    expected = decode_audio((tmp_path / "a.wav").read_bytes(), "a.wav")
    assert np.array_equal(decode_audio(streamed, "streamed"), expected)
    with pytest.raises(AudioTooLong, match="at least 1.0 s"):
        decode_audio(streamed, "streamed", max_seconds=0.5)


def test_a_file_named_like_a_pipe_is_read_not_run(tmp_path, webm, monkeypatch):
    """``touch PWNED |`` is a file's name to read_file; read_audio still runs pipes."""
    monkeypatch.chdir(tmp_path)
    speech = (0.1 * np.random.default_rng(3).standard_normal(8000)).astype(np.float32)
    soundfile.write("plain.wav", speech, 16000, subtype="PCM_16")
    shutil.copy("plain.wav", "touch PWNED |")
    shutil.copy(webm, "touch PWNED2 |")  # a container: ffmpeg reads the file by its name
    assert np.array_equal(read_file("touch PWNED |"), read_audio("plain.wav"))
    assert np.array_equal(read_file("touch PWNED2 |"), read_audio(str(webm)))
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()
    assert np.array_equal(read_audio("cat plain.wav |"), read_audio("plain.wav"))


def test_an_mp4_whose_index_comes_last_is_decoded_whole(tmp_path):
    """ffmpeg's own mp4 and m4a (and phones') put the index after the samples: an upload of
    one is decoded from a file, which ffmpeg can seek, not from a pipe (nothing comes out)."""
    noise = 0.1 * np.random.default_rng(1).standard_normal(10 * 16000)
    soundfile.write(tmp_path / "n.wav", noise, 16000, subtype="PCM_16")
    ffmpeg("-i", tmp_path / "n.wav", "-c:a", "aac", tmp_path / "n.m4a")
    data = (tmp_path / "n.m4a").read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")  # the index is last
    samples = decode_audio(data, "upload n.m4a", max_seconds=600)
    assert abs(len(samples) / 16000 - 10) < 0.1
