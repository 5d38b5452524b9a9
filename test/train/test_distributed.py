"""ESPnet's distributed mode on CPU: 2 processes (torchrun, gloo) train one model."""

import math
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

from helpers import ASSIGN, run_train, write
from osum.dev.tiny_setup import tiny_config, train_command, write_config

pytestmark = pytest.mark.slow


def torchrun(args, tmp_path, port, timeout=600):
    """osum_train's arguments on 2 CPU ranks (gloo) through the probe trainer."""
    exe = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    cmd = [
        exe,
        "--nproc_per_node",
        "2",
        "--master_port",
        str(port),
        str(Path(__file__).with_name("dist_probe.py")),
        *args,
        "--dist_backend",
        "gloo",
    ]
    env = dict(os.environ, OSUM_PROBE_DIR=str(tmp_path), OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[2]), env.get("PYTHONPATH", "")])
    return run_train(cmd, cwd=tmp_path, env=env, timeout=timeout).stderr


def test_two_ranks_finite_loss_and_identical_parameters(tiny_dirs, speech_data, tmp_path):
    config = write_config(tmp_path / "train.yaml", tiny_config(tiny_dirs, max_epoch=2))
    exp = tmp_path / "exp"
    args = train_command(config, speech_data, exp)[3:]  # drop "python -m osum.bin.osum_train"
    log = torchrun(args, tmp_path, 29531)
    assert re.search(r":0/2\] ", log), "rank 0 of 2 should log"
    losses = [float(x) for x in re.findall(r"\[train\].*? loss=([-\d.e+]+|nan|inf)", log)]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses), losses
    r0, r1 = torch.load(tmp_path / "rank0.pth"), torch.load(tmp_path / "rank1.pth")
    assert r0.keys() == r1.keys() and len(r0) > 0
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"{k} differs between ranks"
    assert (exp / "2epoch.pth").exists()


def test_a_rank_whose_batch_has_no_labels_does_not_hang_the_others(task_dir, tiny_dirs, tmp_path):
    """With label_weight the labels' accuracy (acc_x) exists only for batches with labels;
    every rank must still report the same stats, or the others wait in all_reduce."""
    from osum.data.task_files import write_task_info

    tasks = {k: "ASR" for k in ASSIGN}
    tasks["en0-003"] = "SER"  # one labelled utterance: in its step, one rank has none
    write(task_dir / "utt2task", tasks)
    write_task_info(task_dir)
    config = write_config(
        tmp_path / "train.yaml",
        tiny_config(tiny_dirs, max_epoch=1, preprocessor_conf=dict(label_weight=4.0)),
    )
    info = [
        f"--{m}_data_path_and_name_and_type={task_dir}/utt2taskinfo,task,text"
        for m in ("train", "valid")
    ]
    args = train_command(config, task_dir, tmp_path / "exp", *info)[3:]
    log = torchrun(args, tmp_path, 29532, timeout=300)
    results = re.findall(r"1epoch results: \[train\](.*?)\[valid\]", log)
    assert len(results) == 1, log[-2000:]
    acc_x = re.search(r"acc_x=([-\d.e+]+|nan)", results[0])
    assert acc_x and math.isfinite(float(acc_x.group(1))), results[0]
