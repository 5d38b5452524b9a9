"""A recipe copied out of the checkout, and run: for tests, benchmarks and fault runs
that must not write into the repository."""

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUTPUTS = ("data", "dump", "exp", "models", "downloads")


def copy_recipe(name: str, dest: Path) -> Path:
    """A copy of egs/<name>/osum1 in ``dest`` (as ``dest/<name>/osum1``) whose links point
    into this checkout; a recipe's outputs are not copied."""
    src = REPO / "egs" / name / "osum1"
    d = Path(dest) / name / "osum1"
    d.mkdir(parents=True)
    for item in src.iterdir():
        if item.name in OUTPUTS:
            continue
        if item.is_symlink():
            (d / item.name).symlink_to(item.resolve())
        elif item.is_dir():
            shutil.copytree(item, d / item.name, symlinks=False)
        else:
            shutil.copy2(item, d / item.name)
    (d / "path.sh").write_text(
        (src / "path.sh").read_text().replace("../../../tools", str(REPO / "tools"))
    )
    return d


def recipe_env(env=None) -> dict:
    """The environment of a recipe run: one thread per process (bitwise repeatable)."""
    return dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))


def run_recipe(recipe: Path, *args, env=None, timeout=1200):
    """``./run.sh ARGS`` in a recipe dir with one thread; returns the CompletedProcess."""
    return subprocess.run(
        ["./run.sh", *args],
        cwd=recipe,
        capture_output=True,
        text=True,
        env=recipe_env(env),
        timeout=timeout,
    )
