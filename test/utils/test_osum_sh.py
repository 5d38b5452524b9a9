"""osum.sh --help: the table of stages and every option with its default and meaning."""

import re
import subprocess
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "egs" / "TEMPLATE" / "osum1" / "osum.sh"


def test_help_lists_every_option_with_its_default():
    recipe = ENGINE.parents[2] / "mini_osum" / "osum1"
    proc = subprocess.run(
        ["./osum.sh", "--help"], cwd=recipe, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "| stage |" in out and "Options (--name value), with their defaults:" in out
    variables = re.findall(r"^([a-z_]+)=(\S*)", ENGINE.read_text().split("help_message=")[0], re.M)
    assert len(variables) > 20
    for name, default in variables:
        line = re.search(rf"^    --{name} +(\S+) +(.*)$", out, re.M)
        assert line, name
        assert line.group(1) == (default or '""'), name
        assert line.group(2).strip(), f"--{name} has no description"
    assert "\n  Training\n" in out and "\n  Decoding and scoring\n" in out
