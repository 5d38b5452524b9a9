"""Stage 2's dump: raw 16 kHz wav or Whisper log-mel arks, jobs, merging, bad audio listed."""

import subprocess
import sys

import kaldiio
import numpy as np
import soundfile
import torch
import whisper

from helpers import write
from osum.dump import dump, merge


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


def test_dump_command_line(speech_data, tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "osum.bin.dump", str(speech_data), str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0 and '"dumped": 12' in res.stdout
