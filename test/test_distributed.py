"""ESPnet's distributed mode on CPU: 2 processes (torchrun, gloo) train one model."""

import math
import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import torch

from helpers import run_train
from osum.smoke import tiny_config, train_command, write_config

pytestmark = pytest.mark.slow


def test_two_ranks_finite_loss_and_identical_parameters(tiny_dirs, speech_data, tmp_path):
    config = write_config(tmp_path / "train.yaml", tiny_config(tiny_dirs, max_epoch=2))
    exp = tmp_path / "exp"
    args = train_command(config, speech_data, exp)[3:]  # drop "python -m osum.bin.osum_train"
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    cmd = [
        torchrun,
        "--nproc_per_node",
        "2",
        "--master_port",
        "29531",
        str(Path(__file__).with_name("dist_probe.py")),
        *args,
        "--dist_backend",
        "gloo",
    ]
    env = dict(os.environ, OSUM_PROBE_DIR=str(tmp_path), OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parents[1]), env.get("PYTHONPATH", "")])
    out = run_train(cmd, cwd=tmp_path, env=env)
    log = out.stderr
    assert re.search(r":0/2\] ", log), "rank 0 of 2 should log"
    losses = [float(x) for x in re.findall(r"\[train\].*? loss=([-\d.e+]+|nan|inf)", log)]
    assert len(losses) == 2 and all(math.isfinite(x) for x in losses), losses
    r0, r1 = torch.load(tmp_path / "rank0.pth"), torch.load(tmp_path / "rank1.pth")
    assert r0.keys() == r1.keys() and len(r0) > 0
    for k in r0:
        assert torch.equal(r0[k], r1[k]), f"{k} differs between ranks"
    assert (exp / "2epoch.pth").exists()
