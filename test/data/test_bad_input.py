"""Bad input to training names the culprit: file, line or utterance."""

import shutil

import numpy as np
import pytest
import soundfile

from helpers import run_train
from osum.asrx.preprocess import OSUMPreprocessor
from osum.data.checks import check_data_keys, check_sample_rate, read_keys
from osum.dev.tiny_setup import tiny_config, train_command, write_config


def copy_data(src, dst):
    shutil.copytree(src, dst)
    return dst


def train_fails(tiny_dirs, data, tmp_path, **cfg):
    config = write_config(tmp_path / "train.yaml", tiny_config(tiny_dirs, max_epoch=1, **cfg))
    proc = run_train(train_command(config, data, tmp_path / "exp"), cwd=tmp_path, check=False)
    assert proc.returncode != 0
    return proc.stderr


@pytest.mark.slow
def test_corrupt_audio_names_the_file(tiny_dirs, speech_data, tmp_path):
    data = copy_data(speech_data, tmp_path / "data")
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage" * 10)
    lines = (data / "wav.scp").read_text().splitlines()
    uid = lines[2].split()[0]
    lines[2] = f"{uid} {bad}"
    (data / "wav.scp").write_text("\n".join(lines) + "\n")
    err = train_fails(tiny_dirs, data, tmp_path)
    assert str(bad) in err and uid in err


@pytest.mark.slow
def test_empty_audio_names_the_utterance(tiny_dirs, speech_data, tmp_path):
    data = copy_data(speech_data, tmp_path / "data")
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 16000)
    lines = (data / "wav.scp").read_text().splitlines()
    uid = lines[0].split()[0]
    lines[0] = f"{uid} {empty}"
    (data / "wav.scp").write_text("\n".join(lines) + "\n")
    err = train_fails(tiny_dirs, data, tmp_path)
    assert f"utterance {uid}: empty audio" in err


@pytest.mark.slow
def test_mismatched_utterance_id_names_file_and_id(tiny_dirs, speech_data, tmp_path):
    data = copy_data(speech_data, tmp_path / "data")
    lines = (data / "text").read_text().splitlines()
    lines[1] = "zz-unknown " + lines[1].split(maxsplit=1)[1]
    (data / "text").write_text("\n".join(sorted(lines)) + "\n")
    err = train_fails(tiny_dirs, data, tmp_path)
    assert f"{data}/text" in err and "zz-unknown" in err


@pytest.mark.slow
def test_missing_model_dir_is_named(tiny_dirs, speech_data, tmp_path):
    missing = tmp_path / "no_such_qwen"
    err = train_fails(
        tiny_dirs,
        speech_data,
        tmp_path,
        llm_conf=dict(path=str(missing), lora=True),
        preprocessor_conf=dict(tokenizer=tiny_dirs["llm"]),
    )
    assert f"LLM dir {missing} does not exist" in err
    missing_whisper = tmp_path / "no_such_whisper"
    err = train_fails(
        tiny_dirs, speech_data, tmp_path, encoder_conf=dict(init=str(missing_whisper))
    )
    assert str(missing_whisper) in err and "does not exist" in err


def test_data_check_messages(tmp_path):
    a = tmp_path / "wav.scp"
    a.write_text("u1 a.wav\nu2 b.wav\n")
    b = tmp_path / "text"
    b.write_text("u1 hello\nu3 world\n")
    with pytest.raises(ValueError, match=r"text: utterance ids do not match .*missing u2.*has u3"):
        check_data_keys([(str(a), "speech", "sound"), (str(b), "text", "text")])
    dup = tmp_path / "dup"
    dup.write_text("u1 x\nu1 y\n")
    with pytest.raises(ValueError, match=r"dup:2: utterance u1 appears twice"):
        read_keys(str(dup))
    bad = tmp_path / "bad"
    bad.write_bytes(b"u1 ok\nu2 \xff\xfe\n")
    with pytest.raises(ValueError, match=r"bad:2: not valid UTF-8"):
        read_keys(str(bad))


def test_sample_rate_other_than_16k_is_named(tmp_path):
    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.zeros(8000, dtype=np.float32), 8000)
    scp = tmp_path / "wav.scp"
    scp.write_text(f"spk-a {wav}\n")
    with pytest.raises(ValueError, match=r"wav.scp:1: utterance spk-a: .*a.wav is 8000 Hz"):
        check_sample_rate(str(scp))
    soundfile.write(wav, np.zeros(8000, dtype=np.float32), 16000)
    check_sample_rate(str(scp))


def test_audio_longer_than_the_encoder_window_is_named(tiny_dirs):
    pre = OSUMPreprocessor(train=True, tokenizer=tiny_dirs["llm"])
    with pytest.raises(ValueError, match=r"utterance u1: 31.0 s is longer"):
        pre("u1", {"speech": np.zeros(31 * 16000, dtype=np.float32), "text": "hi"})
    with pytest.raises(ValueError, match=r"utterance u2: empty audio"):
        pre("u2", {"speech": np.zeros(0, dtype=np.float32), "text": "hi"})
    out = pre("u3", {"speech": np.zeros((16000, 2), dtype=np.float32), "text": "hi"})
    assert out["speech"].shape == (16000,) and out["text"][-1] == pre.end_id


def test_a_dump_job_that_fails_half_way_leaves_no_half_files(speech_data, tmp_path, monkeypatch):
    """The ark and its scp appear when the job ends, whole; a job that stops half way
    leaves the earlier job's files as they were and no `skipped` (merge's sign that a job
    is done), and a run again finishes as if it had not failed."""
    import osum.data.dump as dump_module

    out = tmp_path / "mel"
    assert dump_module.dump(str(speech_data), str(out), "whisper_mel")["dumped"] == 12
    before = {n: (out / n).read_bytes() for n in ("feats.ark", "feats.scp", "feats_shape")}
    add, calls = dump_module._MelSink.add, []

    def failing_add(self, utt, audio):
        calls.append(utt)
        if len(calls) == 5:
            raise OSError("No space left on device")
        add(self, utt, audio)

    monkeypatch.setattr(dump_module._MelSink, "add", failing_add)
    with pytest.raises(OSError, match="No space left"):
        dump_module.dump(str(speech_data), str(out), "whisper_mel")
    assert {n: (out / n).read_bytes() for n in before} == before
    assert not (out / "skipped").exists() and not list(out.glob(".*"))
    monkeypatch.setattr(dump_module._MelSink, "add", add)
    assert dump_module.dump(str(speech_data), str(out), "whisper_mel")["dumped"] == 12
    assert (out / "feats.ark").read_bytes() == before["feats.ark"]
    scp = (out / "feats.scp").read_text().splitlines()
    assert len(scp) == 12 and all(f" {out}/feats.ark:" in line for line in scp)


def test_task_info_appears_whole(task_dir, monkeypatch):
    """utt2taskinfo written half (a failure on the 5th line) leaves the old one whole."""
    import osum.data.task_files as task_files

    old = task_files.write_task_info(task_dir).read_text()
    dumps, calls = task_files.json.dumps, []

    def failing_dumps(*args, **kw):
        calls.append(1)
        if len(calls) == 5:
            raise OSError("No space left on device")
        return dumps(*args, **kw)

    monkeypatch.setattr(task_files.json, "dumps", failing_dumps)
    with pytest.raises(OSError):
        task_files.write_task_info(task_dir)
    assert (task_dir / "utt2taskinfo").read_text() == old
    assert not list(task_dir.glob(".*"))
