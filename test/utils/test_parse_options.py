"""utils/parse_options.sh, sourced by a small demo script."""

import subprocess
from pathlib import Path

import pytest

UTILS = Path(__file__).resolve().parents[2] / "utils"

DEMO = """#!/usr/bin/env bash
# Usage: demo.sh [options] <arg>...
# Prints its settings.

set -euo pipefail
nj=4
foo_bar=x
use_gpu=false
{help_line}
. {utils}/parse_options.sh
echo "nj=$nj foo_bar=$foo_bar use_gpu=$use_gpu n=$# args=$*"
echo "leaked=$(compgen -v __po_ | wc -l)"
"""


@pytest.fixture
def demo(tmp_path):
    def make(help_message=None):
        help_line = "" if help_message is None else f'help_message="{help_message}"'
        script = tmp_path / "demo.sh"
        script.write_text(DEMO.format(help_line=help_line, utils=UTILS))
        script.chmod(0o755)

        def call(*args):
            return subprocess.run(
                [str(script), *args], capture_output=True, text=True, cwd=tmp_path, timeout=30
            )

        return call

    return make


def test_defaults_and_positional(demo):
    r = demo()("a", "b")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "nj=4 foo_bar=x use_gpu=false n=2 args=a b\nleaked=0\n"


def test_dash_underscore_and_equals_forms(demo):
    r = demo()("--nj", "8", "--foo-bar", "y z", "--use_gpu", "true", "--nj=9", "pos")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "nj=9 foo_bar=y z use_gpu=true n=1 args=pos"


def test_stops_at_first_non_option_and_double_dash(demo):
    call = demo()
    r = call("a", "--nj", "3")
    assert r.stdout.splitlines()[0] == "nj=4 foo_bar=x use_gpu=false n=3 args=a --nj 3"
    r = call("--nj", "2", "--", "--nj", "-1")
    assert r.stdout.splitlines()[0] == "nj=2 foo_bar=x use_gpu=false n=2 args=--nj -1"
    r = call("-1")
    assert r.stdout.splitlines()[0] == "nj=4 foo_bar=x use_gpu=false n=1 args=-1"


def test_invalid_option(demo):
    r = demo()("--foo-baz", "1", "x")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == "demo.sh: invalid option --foo_baz\n"


def test_boolean_must_stay_boolean(demo):
    r = demo()("--use-gpu", "yes")
    assert r.returncode == 1
    assert r.stderr == "demo.sh: option --use_gpu expects true or false, got 'yes'\n"


def test_missing_value(demo):
    r = demo()("--nj")
    assert r.returncode == 1
    assert r.stderr == "demo.sh: option --nj requires a value\n"


def test_help_prints_leading_comment(demo):
    for flag in ("--help", "-h"):
        r = demo()(flag)
        assert r.returncode == 0
        assert r.stdout == "Usage: demo.sh [options] <arg>...\nPrints its settings.\n"


def test_help_prints_help_message(demo):
    r = demo(help_message="Usage: demo [--nj N]")("--nj", "2", "--help")
    assert r.returncode == 0
    assert r.stdout == "Usage: demo [--nj N]\n"


def test_config_file_applied_first(demo, tmp_path):
    (tmp_path / "demo.conf").write_text("# comment\nnj=3\nfoo_bar=from_conf\n")
    # --nj on the command line wins although it comes before --config.
    r = demo()("--nj", "5", "--config", "demo.conf", "arg")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "nj=5 foo_bar=from_conf use_gpu=false n=1 args=arg"


def test_missing_config_file(demo):
    r = demo()("--config", "nope.conf")
    assert r.returncode == 1
    assert r.stderr == "demo.sh: config file 'nope.conf' (given with --config) does not exist\n"
