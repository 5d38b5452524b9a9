"""Decoding audio files by name (``osum.bin.decode_files``, ``osum.decode.files``): each
file's record is what Speech2Text gives for that file alone, in the order given, whatever
its format; a bad file is named and the others still decoded."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from osum.data.audio import read_audio
from osum.decode.files import decode_files, load_file
from osum.decode.speech2text import Speech2Text
from osum.dev.tiny_setup import serving_model, synth_speech

pytestmark = pytest.mark.slow

MAX_NEW_TOKENS = 48  # the serving model's hypotheses end before


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """An exported tiny model whose hypotheses end after a few tokens."""
    return serving_model(tmp_path_factory.mktemp("serving_model"))


@pytest.fixture(scope="module")
def s2t(model) -> Speech2Text:
    return Speech2Text(str(model), max_new_tokens=MAX_NEW_TOKENS)


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict:
    """Good files in four formats (wav, flac, mp4, m4a) and bad ones, by name."""
    d = tmp_path_factory.mktemp("files")
    files = {}
    for i, text in enumerate(["turn on the light", "open the door", "call my mother"]):
        synth_speech(text, d / f"s{i}.wav")
    files["wav"] = d / "s0.wav"
    files["flac"] = d / "s1.flac"
    wave, rate = soundfile.read(d / "s1.wav")
    soundfile.write(files["flac"], wave, rate)
    for ext, src in (("mp4", "s2.wav"), ("m4a", "s0.wav")):
        files[ext] = d / f"s.{ext}"
        cmd = ["ffmpeg", "-nostdin", "-v", "error", "-i", d / src, "-c:a", "aac", files[ext]]
        subprocess.run(cmd, check=True)
    files["text"] = d / "notes.txt"
    files["text"].write_text("not audio\n")
    files["short"] = d / "short.wav"
    soundfile.write(files["short"], np.zeros(100, np.float32), 16000)
    files["cut"] = d / "cut.wav"
    files["cut"].write_bytes(files["wav"].read_bytes()[:2000])  # a partial copy
    return {k: str(v) for k, v in files.items()}


def alone(s2t: Speech2Text, path: str, task: str, question: str | None = None) -> dict:
    """The record of ``path`` decoded by itself with Speech2Text."""
    wave = read_audio(path)
    [r] = s2t.decode_batch([s2t.prepare(wave, 16000, path)], [task], [question])
    p = r.parsed
    words = [{"word": w, "start": round(s, 3), "end": round(e, 3)} for s, e, w in p.alignment]
    return {
        "file": path,
        "task": task,
        "text": r.text,
        "transcript": p.transcript,
        "labels": p.labels,
        "words": words,
        "answer": p.answer,
        "flags": p.flags,
        "duration": round(len(wave) / 16000, 3),
    }


def command(*argv, cwd=None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "osum.bin.decode_files", *map(str, argv)]
    env = dict(os.environ, OSUM_DEBUG="", OSUM_PROGRESS="1")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


@pytest.mark.parametrize("task", ["SRWT", "STTC"])
def test_each_record_is_the_file_decoded_alone(s2t, audio, task):
    paths = [audio[k] for k in ("wav", "flac", "mp4", "m4a", "wav")]
    question = "what did I say?" if task == "STTC" else None
    got = list(decode_files(s2t, paths, task, question, group=2))  # groups of 2 files
    assert [d.path for d in got] == paths and all(d.error is None for d in got)
    assert [d.record for d in got] == [alone(s2t, p, task, question) for p in paths]
    json.dumps([d.record for d in got])  # JSON as it is


def test_a_bad_file_is_named_and_the_others_decoded(s2t, audio, tmp_path):
    marker = tmp_path / "ran"
    paths = [audio["text"], audio["wav"], audio["short"], str(tmp_path / "nope.wav")]
    paths += [f"touch {marker} |", str(tmp_path), audio["cut"], audio["flac"]]
    got = {d.path: d for d in decode_files(s2t, paths, "ASR", group=3)}
    assert list(got) == paths
    assert [p for p in paths if got[p].error is None] == [audio["wav"], audio["flac"]]
    assert got[audio["flac"]].record == alone(s2t, audio["flac"], "ASR")
    assert "cannot read its audio" in got[audio["text"]].error
    assert got[audio["short"]].error.startswith("100 samples is too short to decode")
    assert "cut short" in got[audio["cut"]].error
    assert got[str(tmp_path / "nope.wav")].error == "No such file or directory"
    assert got[str(tmp_path)].error == "is not a file"
    assert got[f"touch {marker} |"].error == "No such file or directory"
    assert not marker.exists()  # a name ending in | is never run
    with pytest.raises(ValueError, match="unknown task 'XX'; known: ASR, SRWT"):
        next(decode_files(s2t, paths, "XX"))


def test_the_command_decodes_every_format(s2t, audio, tmp_path):
    """The real command, on stdout: good files in order, the bad ones named, exit 1."""
    marker = tmp_path / "ran"
    good = [audio[k] for k in ("wav", "flac", "mp4", "m4a")]
    missing = tmp_path / "missing.wav"
    argv = [good[0], audio["text"], good[1], missing, good[2], f"touch {marker} |"]
    argv += [audio["short"], good[3]]
    model = s2t.train_config.parent  # the export dir
    res = command(
        "--model", model, "--task", "SER", "--batch_size", 3,
        "--max_new_tokens", MAX_NEW_TOKENS, *argv,
    )  # fmt: skip
    assert res.returncode == 1, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    assert records == [alone(s2t, p, "SER") for p in good]
    assert "Traceback" not in res.stderr
    lines = [x for x in res.stderr.splitlines() if x.startswith("decode_files: ")]
    assert f"decode_files: {missing}: No such file or directory" in lines
    assert f"decode_files: touch {marker} |: No such file or directory" in lines
    assert any(x.startswith(f"decode_files: {audio['text']}: cannot read its audio") for x in lines)
    assert any(x.startswith(f"decode_files: {audio['short']}: 100 samples") for x in lines)
    assert res.stderr.splitlines()[-1] == "decode_files: 4 of 8 files not decoded"
    assert not marker.exists()  # a name ending in | is never run


def test_the_command_writes_its_out_file_whole(s2t, audio, tmp_path):
    out = tmp_path / "results.jsonl"
    question = "what is it?"
    res = command(
        "--model", s2t.train_config, "--task", "STTC", "--question", question,
        "--out", out, "--max_new_tokens", MAX_NEW_TOKENS, audio["mp4"],
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout == "" and "Traceback" not in res.stderr
    assert [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] == [
        alone(s2t, audio["mp4"], "STTC", question)
    ]
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_file_named_like_a_pipe_is_decoded_not_run(s2t, audio, tmp_path, monkeypatch):
    """``touch PWNED |`` is a file (a wav, an mp4): decoded as its plain copy, never run."""
    monkeypatch.chdir(tmp_path)  # where the command would create PWNED
    shutil.copy(audio["wav"], "touch PWNED |")
    shutil.copy(audio["mp4"], "touch PWNED2 |")
    got = list(decode_files(s2t, ["touch PWNED |", "touch PWNED2 |"], "ASR"))
    assert [d.error for d in got] == [None, None]
    for done, plain in zip(got, (audio["wav"], audio["mp4"])):
        assert done.record == {**alone(s2t, plain, "ASR"), "file": done.path}
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()


def failing_batches(decode_batch, bad: torch.Tensor):
    """``decode_batch`` that fails on more than one wave (out of memory, say), and on the
    wave ``bad`` even alone."""

    def flaky(waves, tasks, questions=None):
        if len(waves) > 1:
            raise RuntimeError("CUDA out of memory.\nTried to allocate 2.00 GiB")
        if torch.equal(waves[0], bad):
            raise RuntimeError("a bad wave")
        return decode_batch(waves, tasks, questions)

    return flaky


def test_a_group_that_fails_is_decoded_a_file_at_a_time(s2t, audio, monkeypatch):
    paths = [audio[k] for k in ("wav", "text", "flac", "mp4", "m4a")]
    bad = load_file(s2t, audio["mp4"])
    monkeypatch.setattr(s2t, "decode_batch", failing_batches(s2t.decode_batch, bad))
    got = list(decode_files(s2t, paths, "ASR", group=4))  # [wav text flac mp4] [m4a]
    monkeypatch.undo()
    assert [d.path for d in got] == paths
    assert "cannot read its audio" in got[1].error
    assert got[3].error == "decoding failed: RuntimeError: a bad wave"
    for i in (0, 2, 4):
        assert got[i].error is None and got[i].record == alone(s2t, paths[i], "ASR")


def test_the_out_file_keeps_its_records_when_a_group_fails(s2t, audio, tmp_path, monkeypatch):
    """The command, in this process (its model's decode_batch made to fail): every good
    record is in --out, the failure named, the status 1."""
    from osum.bin import decode_files as command_module

    out = tmp_path / "r.jsonl"
    bad = load_file(s2t, audio["flac"])
    real = Speech2Text.decode_batch

    def flaky(self, waves, tasks, questions=None):
        return failing_batches(lambda *a: real(self, *a), bad)(waves, tasks, questions)

    monkeypatch.setattr(Speech2Text, "decode_batch", flaky)
    paths = [audio[k] for k in ("wav", "flac", "mp4")]
    argv = ["--model", str(s2t.train_config.parent), "--max_new_tokens", str(MAX_NEW_TOKENS)]
    with pytest.raises(SystemExit) as e:
        command_module.main([*argv, "--out", str(out), *paths])
    monkeypatch.undo()
    assert e.value.code == 1
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert records == [alone(s2t, p, "ASR") for p in (audio["wav"], audio["mp4"])]
