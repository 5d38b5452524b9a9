"""The quick check (osum.bin.smoke, run_all.sh --smoke true): the mini recipe's --tiny run."""

import json
import os
import subprocess
import sys

import pytest

from helpers import copy_recipe

pytestmark = pytest.mark.slow


def test_the_quick_check_runs_every_stage_and_keeps_the_recipes_results(tmp_path):
    recipe = copy_recipe("mini_osum", tmp_path)
    (recipe / "RESULTS.md").write_text("the recipe's own figures\n")
    data = "--train 3 --dev 1 --test 1 --whisper_dim 64 --llm_dim 64 --llm_layers 2"
    cmd = [sys.executable, "-m", "osum.bin.smoke", "--recipe", str(recipe), "--epochs", "1"]
    res = subprocess.run(
        cmd + ["--local_data_opts", data],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=1200,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    # the corpus' own tiny models are used, not rebuilt by stage 3
    assert "tiny random models ->" not in res.stderr
    log = (recipe / "exp/tiny/1_all/train.log").read_text()
    assert "trainable parts ['adapter', 'encoder', 'llm']" in log
    assert "1epoch results" in log and "2epoch results" not in log  # --epochs 1
    # every task of the mini corpus decoded and scored, into exp/tiny's RESULTS.md
    entries = json.loads((recipe / "exp/tiny/RESULTS.json").read_text())
    assert {e["task"] for e in entries} == {
        "ASR", "SRWT", "VED", "SER", "SSR", "SGC", "SAP", "STTC",
    }  # fmt: skip
    assert all(e["model_file"] == "exp/tiny/1_all/valid.loss.ave.pth" for e in entries)
    assert (recipe / "RESULTS.md").read_text() == "the recipe's own figures\n"
    records = [json.loads(p.read_text()) for p in (recipe / "exp/tiny/stages").glob("*.json")]
    stages = {r["stage"]: r for r in records}
    assert sorted(stages) == [1, 2, 3, 4, 5]
    assert stages[3]["command"].startswith("./run.sh --tiny")
