"""run_all.sh's options (the recipe runs themselves are covered by test_recipe.py)."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_all(*args):
    return subprocess.run(
        [str(REPO / "run_all.sh"), *args], capture_output=True, text=True, cwd=REPO, timeout=600
    )


def test_help_and_bad_options():
    res = run_all("--help")
    assert res.returncode == 0 and "--recipes" in res.stdout + res.stderr
    res = run_all("--bogus", "1")
    assert res.returncode != 0 and "bogus" in res.stderr
    res = run_all("--recipes", "egs/no_such_corpus/osum1")
    assert res.returncode == 1 and "egs/no_such_corpus/osum1/run.sh not found" in res.stderr
