"""Stage 2's dump: raw 16 kHz wav or Whisper log-mel arks, jobs, merging, bad audio listed."""

import json
import subprocess
import sys

import kaldiio
import numpy as np
import pytest
import soundfile
import torch
import torchaudio
import whisper

from helpers import write
from osum.data.dump import dump, merge
from osum.data.kaldi import DataError


def test_raw_and_mel_dumps_with_bad_audio_and_jobs(task_dir, tmp_path):
    data = task_dir  # a copy of its own for this test
    wav = dict(line.split() for line in (data / "wav.scp").read_text().splitlines())
    stereo44 = tmp_path / "stereo44.wav"  # 44.1 kHz stereo is converted, not rejected
    a, _ = soundfile.read(wav["en0-000"], dtype="float32")
    subprocess.run(["sox", wav["en0-000"], "-r", "44100", "-c", "2", str(stereo44)], check=True)
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF....garbage")
    wav["en0-000"], wav["en0-001"], wav["en0-002"] = str(stereo44), str(corrupt), "/nowhere.wav"
    write(data / "wav.scp", wav)

    raw = dump(str(data), str(tmp_path / "raw"))
    assert raw == {"dumped": 10, "skipped": 2}
    skipped = (tmp_path / "raw" / "skipped").read_text()
    assert (
        "en0-001 cannot read" in skipped and "en0-002 audio file /nowhere.wav not found" in skipped
    )
    out_wav = dict(line.split() for line in (tmp_path / "raw" / "wav.scp").read_text().splitlines())
    b, sr = soundfile.read(out_wav["en0-000"], dtype="float32")
    assert sr == 16000 and abs(len(b) - len(a)) <= 2
    assert "en0-001" not in (tmp_path / "raw" / "utt2task").read_text()
    assert "en0-001" not in (tmp_path / "raw" / "ctm").read_text()

    out = tmp_path / "mel"
    for job in (1, 2, 3):
        dump(str(data), str(out), "whisper_mel", nj=3, job=job)
    counts = merge(str(out), 3)
    assert counts == {"dumped": 10, "skipped": 2}
    feats = dict(kaldiio.load_scp(str(out / "feats.scp")))
    assert len(feats) == 10
    ref = whisper.log_mel_spectrogram(
        torch.from_numpy(soundfile.read(wav["en0-003"], dtype="float32")[0])
    ).T.numpy()
    assert np.abs(feats["en0-003"] - ref).max() <= 1e-4
    shape = dict(line.split() for line in (out / "feats_shape").read_text().splitlines())
    assert shape["en0-003"] == f"{ref.shape[0]},80"
    assert (out / "spk2utt").is_file() and len((out / "text").read_text().splitlines()) == 10


def test_compressed_log_mel(speech_data, tmp_path):
    """--compress: Kaldi's compressed matrices, read back by ESPnet's kaldi_ark loader."""
    from espnet2.train.dataset import ESPnetDataset

    feats, sizes = {}, {}
    for method in ("none", "2byte", "1byte"):
        out = tmp_path / method
        assert dump(str(speech_data), str(out), "whisper_mel", compress=method)["dumped"] == 12
        sizes[method] = (out / "feats.ark").stat().st_size
        data = ESPnetDataset([(str(out / "feats.scp"), "speech", "kaldi_ark")])
        feats[method] = {uid: data[uid][1]["speech"] for uid in data.loader_dict["speech"]}
    assert set(feats["2byte"]) == set(feats["none"])
    err = {m: max(np.abs(feats[m][u] - x).max() for u, x in feats["none"].items()) for m in feats}
    assert err["2byte"] < 2e-5 < err["1byte"] < 0.02, err
    assert 0.45 < sizes["2byte"] / sizes["none"] < 0.55
    assert 0.2 < sizes["1byte"] / sizes["none"] < 0.3
    with pytest.raises(ValueError, match="compress must be one of"):
        dump(str(speech_data), str(tmp_path / "x"), "whisper_mel", compress="gzip")


def test_dump_command_line(speech_data, tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "osum.bin.dump", str(speech_data), str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and '"dumped": 12' in res.stdout


def test_audio_formats_pipes_and_segments(tmp_path):
    """wav.scp entries as real corpora have them: flac, mp3, ogg/opus, mp4 (ffmpeg), Kaldi
    pipes, 44.1 kHz stereo, and segments of one recording decoded once."""
    rate = 44100
    t = np.arange(int(1.5 * rate)) / rate
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)], 1)
    src = tmp_path / "src.wav"
    soundfile.write(src, stereo, rate)
    for ext, fmt, subtype in [
        ("flac", "FLAC", None),
        ("mp3", "MP3", None),
        ("opus", "OGG", "OPUS"),
    ]:
        r, y = rate, stereo
        if ext == "opus":  # opus has no 44.1 kHz
            r, y = (
                48000,
                torchaudio.functional.resample(torch.from_numpy(stereo.T), rate, 48000).T.numpy(),
            )
        soundfile.write(tmp_path / f"a.{ext}", y, r, format=fmt, subtype=subtype)
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(src),
            "-c:a",
            "aac",
            str(tmp_path / "a.mp4"),
        ],
        check=True,
    )
    calls = tmp_path / "calls"
    pipe = f"sh -c 'echo x >> {calls}; sox {src} -t wav -' |"
    data = tmp_path / "data"
    data.mkdir()
    entries = {f"r-{e}": str(tmp_path / f"a.{e}") for e in ("flac", "mp3", "opus", "mp4")}
    entries.update({"r-pipe": pipe, "r-fail": "sh -c 'echo broken >&2; exit 3' |"})
    entries["r-none"] = "no-such-decoder -i x.mp4 |"
    write(data / "wav.scp", entries)
    segs = {
        f"r-{e}-1": (f"r-{e}", 0.25, 1.25) for e in ("flac", "mp3", "opus", "mp4", "fail", "none")
    }
    segs.update({"r-pipe-1": ("r-pipe", 0.0, 0.5), "r-pipe-2": ("r-pipe", 0.5, 1.5)})
    write(data / "segments", {u: f"{r} {s} {e}" for u, (r, s, e) in segs.items()})
    write(data / "utt2spk", {u: "r" for u in segs})
    write(data / "text", {u: "hello" for u in segs})
    counts = dump(str(data), str(tmp_path / "out"))
    assert counts == {"dumped": 6, "skipped": 2}
    skipped = (tmp_path / "out" / "skipped").read_text()
    assert skipped.startswith("r-fail-1 cannot read sh -c") and "exit 3" in skipped
    assert "broken" in skipped
    none = next(x for x in skipped.splitlines() if x.startswith("r-none-1 "))
    assert "cannot read no-such-decoder" in none and "(exit 127)" in none
    assert none.endswith(": the command is not installed")
    assert calls.read_text() == "x\n"  # both segments of the pipe from one decoding
    wavs = dict(x.split() for x in (tmp_path / "out" / "wav.scp").read_text().splitlines())
    ref = stereo.mean(1)
    ref = torchaudio.functional.resample(torch.from_numpy(ref), rate, 16000).numpy()
    for utt, (_, s, e) in segs.items():
        if utt in ("r-fail-1", "r-none-1"):
            continue
        y, sr = soundfile.read(wavs[utt], dtype="float32")
        assert sr == 16000 and abs(len(y) - (e - s) * 16000) <= 1, utt
        if utt.startswith(("r-flac", "r-pipe")):  # lossless: the same samples
            want = ref[int(s * 16000) : int(s * 16000) + len(y)]
            assert np.abs(y - want).max() < 2e-3, utt
        else:  # lossy codecs (and their delays): the same loudness
            assert abs(np.sqrt((y**2).mean()) - np.sqrt((ref**2).mean())) < 0.05, utt


def test_no_length_limit_for_test_sets(speech_data, tmp_path):
    """max_seconds 0 (osum.sh's test sets): nothing is too long; decoding chunks it."""
    short = dump(str(speech_data), str(tmp_path / "a"), max_seconds=0.5)
    assert short["skipped"] > 0 and "longer than 0.5 s" in (tmp_path / "a" / "skipped").read_text()
    assert dump(str(speech_data), str(tmp_path / "b"), max_seconds=0) == {
        "dumped": 12,
        "skipped": 0,
    }


def test_one_job_dumps_then_merges_as_osum_sh_calls_them(task_dir, tmp_path):
    """--nj 1: the dump writes straight to its output and --merge --nj 1 only counts
    (it used to look for split1/1 and fail: "dump job 1 of 1 has not run")."""
    out = tmp_path / "dump"
    for extra in ([], ["--merge"]):
        res = subprocess.run(
            [sys.executable, "-m", "osum.bin.dump", *extra, "--nj", "1"]
            + ([] if extra else ["--job", "1"])
            + [str(task_dir), str(out)],
            capture_output=True,
            text=True,
        )
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"dumped": 12, "skipped": 0}
    assert not (out / "split1").exists()
    assert (out / "utt2task").read_text() == (task_dir / "utt2task").read_text()
    with pytest.raises(DataError, match="dump job 1 of 1 has not run"):
        merge(str(tmp_path / "never_dumped"), 1)


def test_merged_parts_have_one_spk2utt_line_a_speaker(task_dir, tmp_path):
    """A speaker whose utterances fall in two jobs' parts gets one spk2utt line, and a
    task file of an earlier dump that no part has now is not left behind."""
    out = tmp_path / "dump"
    out.mkdir()
    (out / "utt2question").write_text("en0-000 stale\n")
    for job in (1, 2, 3, 4, 5):
        dump(str(task_dir), str(out), nj=5, job=job)
    assert merge(str(out), 5) == {"dumped": 12, "skipped": 0}
    spk2utt = (out / "spk2utt").read_text().splitlines()
    speakers = [line.split()[0] for line in spk2utt]
    assert len(speakers) == len(set(speakers)) == 4
    assert spk2utt == sorted(spk2utt) and sum(len(x.split()) - 1 for x in spk2utt) == 12
    assert (out / "ctm").read_text() == (task_dir / "ctm").read_text()
    assert not (out / "utt2question").exists()
