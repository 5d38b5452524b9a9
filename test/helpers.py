"""Helpers shared by the tests."""

import subprocess
import sys


def run_train(cmd, cwd, check=True, env=None, timeout=600):
    """Run an osum_train command line with this interpreter; returns the CompletedProcess."""
    cmd = [sys.executable if c == "python" else c for c in cmd]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    return proc
