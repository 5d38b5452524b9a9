"""osum.bin.osum_train through ESPnet's trainer: epochs, resume, averaging, dumped features."""

import os
import signal
import subprocess
import sys
import time

import kaldiio
import pytest
import soundfile
import torch

from helpers import run_train
from osum.dev.tiny_setup import tiny_config, train_command, write_config
from osum.model.frontend import WhisperFrontend
from osum.train import espnet_io
from osum.train.task import OSUMTask

pytestmark = pytest.mark.slow


def test_two_epochs_checkpoints_and_nbest_average(tiny_dirs, speech_data, tmp_path):
    config = write_config(tmp_path / "train.yaml", tiny_config(tiny_dirs, max_epoch=2))
    exp = tmp_path / "exp"
    run_train(train_command(config, speech_data, exp), cwd=tmp_path)
    for f in (
        "checkpoint.pth",
        "1epoch.pth",
        "2epoch.pth",
        "config.yaml",
        "valid.loss.ave_2best.pth",
        "valid.acc.ave_2best.pth",
    ):
        assert (exp / f).exists(), f
    e1, e2 = torch.load(exp / "1epoch.pth"), torch.load(exp / "2epoch.pth")
    ave = torch.load(exp / "valid.loss.ave_2best.pth")
    key = "adapter.speech_llama_proj.weight"
    assert not torch.equal(e1[key], e2[key])  # it trained
    assert torch.allclose(ave[key], (e1[key] + e2[key]) / 2, atol=1e-6)
    # only trainable (and non-pretrained) weights are written
    assert not any(k.startswith("llm.") and "lora_" not in k for k in e2)
    assert any("lora_A" in k for k in e2)
    # the averaged model loads back through config.yaml (base weights from the dirs) ...
    model, _ = OSUMTask.build_model_from_file(exp / "config.yaml", exp / "valid.loss.ave_2best.pth")
    assert torch.equal(model.state_dict()[key], ave[key])
    # ... and a checkpoint missing trained weights is refused, naming the file
    partial = tmp_path / "partial.pth"
    torch.save({k: v for k, v in ave.items() if not k.startswith("adapter.")}, partial)
    with pytest.raises(RuntimeError, match=r"partial.pth: checkpoint does not fit .*adapter"):
        OSUMTask.build_model_from_file(exp / "config.yaml", partial)


def test_resume_after_being_stopped(tiny_dirs, speech_data, tmp_path):
    config = write_config(tmp_path / "train.yaml", tiny_config(tiny_dirs, max_epoch=3))
    exp = tmp_path / "exp"
    cmd = [sys.executable if c == "python" else c for c in train_command(config, speech_data, exp)]
    cmd += ["--curves_at_end", "true"]
    proc = subprocess.Popen(
        cmd,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    # checkpoint.pth appears whole (a rename) after its epoch's model file, and the next
    # checkpoint comes an epoch later
    while not (exp / "checkpoint.pth").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # stopped hard, as a lost node would be
    proc.wait()
    done = sorted(int(p.name.split("epoch")[0]) for p in exp.glob("*epoch.pth"))
    assert done, "the first epoch's checkpoint should exist"
    states = torch.load(exp / "checkpoint.pth", weights_only=False)
    saved = states["reporter"]["epoch"]
    assert not (exp / "images").exists()  # --curves_at_end: no curves after an epoch
    out = run_train(cmd + ["--resume", "true"], cwd=tmp_path)
    log = out.stderr
    assert "The training was resumed" in log
    started = [e for e in range(1, 4) if f"{e}/3epoch started" in log]
    assert started == list(range(saved + 1, 4))
    assert (exp / "3epoch.pth").exists()
    # --curves_at_end: none after each epoch, all of them once at the end
    assert {"loss.png", "acc.png"} <= {p.name for p in (exp / "images").glob("*.png")}
    checkpoints_are_whole_and_read_without_unpickling(exp, cmd, tmp_path)


def checkpoints_are_whole_and_read_without_unpickling(exp, cmd, tmp_path):
    """ESPnet's saves go through a temporary name; checkpoint.pth of epoch N never comes
    before N's model file; a resume reads tensors and plain data, and refuses a pickle."""
    states = espnet_io.load(exp / "checkpoint.pth", map_location="cpu")  # no pickle needed
    assert states["reporter"]["epoch"] == 3
    assert not list(exp.glob(".*.tmp"))
    # a kill between ESPnet's two saves of an epoch: the checkpoint still names a whole epoch
    out = tmp_path / "ordered"
    out.mkdir()
    espnet_io.save(states, out / "checkpoint.pth")
    key = "adapter.speech_llama_proj.weight"
    assert torch.equal(torch.load(out / "3epoch.pth")[key], states["model"][key])
    written = (out / "3epoch.pth").stat().st_ino
    espnet_io.save(states["model"], out / "3epoch.pth")  # ESPnet's own save, right after
    assert (out / "3epoch.pth").stat().st_ino == written  # not written twice
    # a checkpoint that would run code when unpickled is refused, and nothing runs
    torch.save({"model": {}, "reporter": {"epoch": 1, "stats": Evil()}}, exp / "checkpoint.pth")
    res = run_train(cmd + ["--resume", "true", "--max_epoch", "4"], cwd=tmp_path, check=False)
    assert res.returncode != 0
    assert "Weights only load failed" in res.stderr or "weights_only" in res.stderr
    assert not (tmp_path / "pwned").exists()


def test_dumped_log_mel_from_kaldiio_ark(tiny_dirs, speech_data, tmp_path):
    dump = tmp_path / "dump"
    dump.mkdir()
    frontend = WhisperFrontend()
    with (
        kaldiio.WriteHelper(f"ark,scp:{dump}/feats.ark,{dump}/feats.scp") as writer,
        open(dump / "feats_shape", "w") as shape,
    ):
        for line in open(speech_data / "wav.scp"):
            uid, path = line.split()
            audio, _ = soundfile.read(path, dtype="float32")
            x = torch.from_numpy(audio)[None]
            feats, n = frontend(x, torch.tensor([x.shape[1]]))
            writer(uid, feats[0].numpy())
            shape.write(f"{uid} {int(n[0])},80\n")
    (dump / "text").write_text((speech_data / "text").read_text())
    cfg = tiny_config(tiny_dirs, max_epoch=1, frontend=None, input_size=80)
    config = write_config(tmp_path / "train.yaml", cfg)
    exp = tmp_path / "exp"
    cmd = train_command(config, speech_data, exp)
    cmd = [
        c.replace(
            f"{speech_data}/wav.scp,speech,sound", f"{dump}/feats.scp,speech,kaldi_ark"
        ).replace(f"{speech_data}/speech_shape", f"{dump}/feats_shape")
        for c in cmd
    ]
    out = run_train(cmd, cwd=tmp_path)
    assert "1epoch results" in out.stderr
    assert (exp / "1epoch.pth").exists()
    # a model trained on dumped log-mel decodes audio through the same frontend
    from osum.decode.speech2text import Speech2Text

    s2t = Speech2Text(exp / "config.yaml", exp / "1epoch.pth", max_new_tokens=4)
    assert isinstance(s2t.model.frontend, WhisperFrontend)
    assert isinstance(s2t(audio).text, str)


def test_multitask_training_reads_utt2taskinfo(tiny_dirs, task_dir, tmp_path):
    from osum.data.task_files import write_task_info

    write_task_info(task_dir)
    cfg = tiny_config(tiny_dirs, max_epoch=1, preprocessor_conf=dict(prompt_languages=["en", "zh"]))
    config = write_config(tmp_path / "train.yaml", cfg)
    exp = tmp_path / "exp"
    extra = [
        "--train_data_path_and_name_and_type",
        f"{task_dir}/utt2taskinfo,task,text",
        "--valid_data_path_and_name_and_type",
        f"{task_dir}/utt2taskinfo,task,text",
    ]
    out = run_train(train_command(config, task_dir, exp, *extra), cwd=tmp_path)
    assert "1epoch results" in out.stderr and (exp / "1epoch.pth").exists()
    # an utterance whose task needs a label it lacks is named
    (task_dir / "utt2taskinfo").write_text(
        (task_dir / "utt2taskinfo").read_text(encoding="utf-8").replace('"emotion": "happy", ', ""),
        encoding="utf-8",
    )
    bad = run_train(
        train_command(config, task_dir, tmp_path / "exp2", *extra), cwd=tmp_path, check=False
    )
    assert bad.returncode != 0 and "utterance en0-003: task SER needs ['emotion']" in bad.stderr


def test_deepspeed_on_one_process_trains_with_the_plain_trainer(tiny_dirs, speech_data, tmp_path):
    """ESPnet runs its DeepSpeed trainer in distributed mode only; one process warns and
    trains as usual (docs/training.md, "On GPUs and on many"), OMP_NUM_THREADS unset or not."""
    config = write_config(tmp_path / "train.yaml", tiny_config(tiny_dirs, max_epoch=1))
    (tmp_path / "ds.json").write_text(
        '{"train_micro_batch_size_per_gpu": 1, "bf16": {"enabled": true}}'
    )
    exp = tmp_path / "exp"
    cmd = train_command(config, speech_data, exp, "--use_deepspeed", "true",
                        "--deepspeed_config", str(tmp_path / "ds.json"))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = run_train(cmd, cwd=tmp_path, env=env)
    assert "Switch back to the normal trainer" in out.stderr
    assert (exp / "1epoch.pth").exists() and not list(exp.glob("checkpoint_*"))


class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))
