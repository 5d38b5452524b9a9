"""Every ``python -m osum.bin.<command>`` answers a user's mistake (a missing file, a bad
option value, a full disk) with a line naming it and a non-zero status, not a traceback.

The commands are found with pkgutil: a new one fails :func:`test_every_command_has_cases`
until its cases are written in :func:`cases`.
"""

import errno
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import osum.bin
from osum import cli

COMMANDS = sorted(m.name for m in pkgutil.iter_modules(osum.bin.__path__))
# the commands whose import loads torch and ESPnet (seconds each): slow
HEAVY = {
    "dump",
    "export_model",
    "filter_data",
    "import_osum",
    "mix_data",
    "osum_inference",
    "osum_score",
    "osum_train",
    "prepare_task_info",
    "validate_tasks",
}


def cases(tmp: Path) -> dict:
    """command -> [(argv, what its stderr must name)]: first a path that does not exist
    (or cannot: below a plain file, ``afile``), then a bad option value where the command
    has numeric options."""
    m, f = tmp / "missing", tmp / "afile"
    return {
        "check_pretrained": [(["--encoder_init", m / "whisper"], m / "whisper")],
        "compare_results": [(["--reference", m / "paper.yaml", tmp], m / "paper.yaml")],
        "decode_files": [
            (["--model", m / "export", tmp / "a.wav"], m / "export"),
            (["--model", tmp, m / "a.wav"], m / "a.wav"),
            (["--model", tmp, "--task", "XX", m / "a.wav"], "unknown task 'XX'; known: ASR"),
            (["--model", tmp, "--batch_size", "0", m / "a.wav"], "--batch_size"),
            (["--model", tmp, "--out", m / "r.jsonl", f], m),
        ],
        "dump": [
            ([m / "data", tmp / "dump"], m / "data"),
            (["--n_mels", "81", tmp, tmp / "dump"], "--n_mels"),
            (["--nj", "0", tmp, tmp / "dump"], "--nj"),
            (["--nj", "2", "--job", "3", tmp, tmp / "dump"], "--job 3"),
        ],
        "export_model": [
            (["--train_config", m / "config.yaml", "--out", tmp / "x"], m / "config.yaml")
        ],
        "filter_data": [
            ([m / "data", tmp / "f"], m / "data"),
            (["--max_target_tokens", "5", tmp, tmp / "f"], "--max_target_tokens"),
        ],
        "gather_results": [(["--out", tmp / "R.md", m / "RESULTS.json"], m / "RESULTS.json")],
        "import_osum": [
            (["--checkpoint", m / "infer.pt", "--llm", m / "llm", "--out", tmp / "x"], m / "llm"),
            (
                ["--checkpoint", tmp, "--llm", tmp, "--out", tmp, "--adapter_heads", "0"],
                "--adapter_heads",
            ),
        ],  # fmt: skip
        "link_model": [(["--model_dir", m / "phase", "--out", tmp / "x"], m / "phase")],
        "llm_text_train": [
            (
                ["--config", m / "c.yaml", "--init_model", m / "m.pth", "--train_config"]
                + [m / "config.yaml", "--data_dir", m / "data", "--output_dir", tmp / "x"],
                m / "c.yaml",
            )
        ],
        "make_results": [(["--out", tmp / "R.md", m / "exp"], m / "exp")],
        "merge_decodes": [(["--out", tmp / "x", m / "output.1"], m / "output.1")],
        "mini_corpus": [
            (["--data", f / "data", "--models", f / "models", "--train", "1"], f / "data"),
            (["--data", tmp / "x", "--train", "-1"], "--train"),
        ],
        "mix_data": [
            (["--out", tmp / "x", f"{m}/data:1"], m / "data"),
            (["--out", tmp / "x", f"{tmp}:heavy"], f"{tmp}:heavy"),
        ],
        "osum_inference": [
            (
                ["--train_config", m / "config.yaml", "--output_dir", tmp / "x"]
                + ["--data_path_and_name_and_type", f"{m}/wav.scp,speech,sound"],
                m / "config.yaml",
            ),
            (
                ["--train_config", tmp, "--output_dir", tmp / "x", "--batch_size", "0"]
                + ["--data_path_and_name_and_type", f"{m}/wav.scp,speech,sound"],
                "--batch_size",
            ),
        ],
        "osum_score": [(["--decode_dir", m / "dec", "--data_dir", m / "data"], m / "dec")],
        "osum_train": [
            (["--config", m / "train.yaml"], m / "train.yaml"),
            (["--max_epoch", "many"], "--max_epoch"),
        ],
        "prepare_task_info": [([m / "data"], m / "data")],
        "record_stage": [
            (["--exp_dir", f / "exp", "--stage", "3", "--seconds", "5", "--command", "x"], f),
            (["--exp_dir", tmp, "--stage", "3", "--seconds", "-5", "--command", "x"], "--seconds"),
        ],
        "serve": [
            (["--model", m / "export"], m / "export"),
            (["--model", tmp, "--port", "-1"], "--port"),
            (["--model", tmp, "--max_rows", "0"], "--max_rows"),
            (["--model", tmp, "--api_key_env", "OSUM_KEY_NOT_SET"], "OSUM_KEY_NOT_SET"),
        ],
        "smoke": [
            (["--recipe", m / "recipe"], m / "recipe"),
            (["--recipe", m / "recipe", "--epochs", "0"], "--epochs"),
        ],
        "tiny_models": [
            (["--out", tmp / "x", m / "data"], m / "data"),
            (["--out", tmp / "x", "--vocab_size", "0", m / "data"], "--vocab_size"),
        ],
        "validate_tasks": [([m / "data"], m / "data")],
    }


def command(name: str, *argv, timeout: float = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", f"osum.bin.{name}", *map(str, argv)]
    env = dict(os.environ, OSUM_DEBUG="")
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def assert_one_line(name: str, res: subprocess.CompletedProcess, needle) -> None:
    """Failed, without a traceback, its last line ``<command>: ...``, naming ``needle``."""
    err = res.stderr
    assert res.returncode != 0, f"{name} exited 0:\n{err[-2000:]}"
    assert "Traceback" not in err, f"{name}: a traceback:\n{err[-3000:]}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, f"{name} failed without a word on stderr"
    assert lines[-1].startswith(f"{name}: "), f"{name}: last line {lines[-1]!r}"
    assert str(needle) in err, f"{name}: {needle} not named in {err[-2000:]!r}"


def test_every_command_has_cases(tmp_path):
    table = cases(tmp_path)
    assert sorted(table) == COMMANDS, (
        f"write the cases of {sorted(set(COMMANDS) - set(table))} in test_commands.cases"
    )
    assert HEAVY <= set(COMMANDS)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in COMMANDS]
)
def test_a_mistake_is_one_line_not_a_traceback(name, tmp_path):
    (tmp_path / "afile").write_text("a file, not a dir\n")
    todo = cases(tmp_path)[name]
    with ThreadPoolExecutor(max_workers=2) as pool:  # a command's cases side by side
        results = list(pool.map(lambda case: command(name, *case[0]), todo))
    for (_, needle), res in zip(todo, results):
        assert_one_line(name, res, needle)
    assert not (tmp_path / "missing").exists()  # nothing made where the user pointed wrongly


@pytest.fixture
def full_disk(small_disk):
    """The small tmpfs, filled: any write to it fails with ENOSPC."""
    try:
        with open(small_disk / "filler", "wb") as f:
            f.write(b"\0" * (1 << 20))
    except OSError as e:
        assert e.errno == errno.ENOSPC
    return small_disk


def test_a_full_disk_is_named(full_disk, tmp_path):
    results = tmp_path / "RESULTS.json"
    results.write_text("[]\n")
    res = command("gather_results", "--out", full_disk / "RESULTS_ALL.md", results)
    assert_one_line("gather_results", res, full_disk / "RESULTS_ALL.md")
    assert "no space left on device (disk full)" in res.stderr
    assert not list(full_disk.glob(".*.tmp"))


def test_an_invalid_input_file_is_named(tmp_path):
    broken = tmp_path / "RESULTS.json"
    broken.write_text('[{"test_set": ')
    res = command("gather_results", "--out", tmp_path / "R.md", broken)
    assert_one_line("gather_results", res, f"{broken}: not valid JSON")
    broken.write_bytes(b'[{"test_set": "caf\xe9"}]')
    res = command("gather_results", "--out", tmp_path / "R.md", broken)
    assert_one_line("gather_results", res, f"{broken}: not UTF-8 text")


def test_dev_full_is_named(tmp_path):
    results = tmp_path / "RESULTS.json"
    results.write_text("[]\n")
    res = command("gather_results", "--out", "/dev/full", results)
    assert_one_line("gather_results", res, "/dev/full: no space left on device (disk full)")


@pytest.mark.slow
def test_training_with_a_missing_data_file(tiny_dirs, tmp_path):
    """osum_train (ESPnet's trainer) on a data file that is not there: one line."""
    from osum.dev.tiny_setup import tiny_config, train_command, write_config

    config = write_config(tmp_path / "train.yaml", tiny_config(tiny_dirs))
    cmd = train_command(config, tmp_path / "missing", tmp_path / "exp")
    res = command("osum_train", *cmd[3:])
    assert_one_line("osum_train", res, tmp_path / "missing")


# the wrapper itself, in this process


def run_command(main, *argv, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["osum_x", *argv])
    monkeypatch.delenv("OSUM_DEBUG", raising=False)
    cli.run(main)


def test_what_a_user_error_says(tmp_path, monkeypatch, capsys):
    def no_file():
        open(tmp_path / "nope.txt", encoding="utf-8").read()

    with pytest.raises(SystemExit) as e:
        run_command(no_file, monkeypatch=monkeypatch)
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err == f"test_commands: {tmp_path / 'nope.txt'}: No such file or directory\n"

    latin = tmp_path / "latin1.txt"
    latin.write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(SystemExit):
        run_command(lambda: latin.read_text(encoding="utf-8"), monkeypatch=monkeypatch)
    assert f"{latin}: not UTF-8 text (byte 0xe9 at offset 3)" in capsys.readouterr().err


def test_a_full_disk_without_a_file_names_the_output_dir():
    full = OSError(errno.ENOSPC, "No space left on device")
    assert cli.describe(full, ["--output_dir", "exp/decode"]) == (
        "writing exp/decode: no space left on device (disk full)"
    )
    assert (
        cli.describe(full, ["--out=exp/x"]) == "writing exp/x: no space left on device (disk full)"
    )
    assert cli.describe(full, [], ["dump/raw"]).startswith("writing dump/raw: ")
    # a temporary name of osum.files is the file it stands for
    named = OSError(errno.ENOSPC, "No space left on device", "/x/.model.pth.123.tmp")
    assert cli.describe(named) == "/x/model.pth: no space left on device (disk full)"


def test_a_bug_keeps_its_traceback(monkeypatch):
    def bug():
        return {}["key"]

    with pytest.raises(KeyError):
        run_command(bug, monkeypatch=monkeypatch)
    with pytest.raises(TypeError):
        run_command(lambda: len(3), monkeypatch=monkeypatch)
    # OSUM_DEBUG=1: a user's error too, for a developer
    monkeypatch.setattr(sys, "argv", ["osum_x"])
    monkeypatch.setenv("OSUM_DEBUG", "1")
    with pytest.raises(FileNotFoundError):
        cli.run(lambda: open("/nonexistent/file"))


def test_option_types():
    assert cli.positive_int("3") == 3
    for bad in ("0", "-1", "x", "1.5"):
        with pytest.raises(Exception, match="must be|not a number"):
            cli.positive_int(bad)
    assert cli.non_negative_int("0") == 0
    assert cli.float_in(0, 1, low_open=True)("1") == 1.0
    for bad in ("0", "1.01", "nan"):
        with pytest.raises(Exception, match=r"in \(0, 1\]"):
            cli.float_in(0, 1, low_open=True)(bad)
    with pytest.raises(Exception, match="> 0"):
        cli.positive_float("inf")
    assert [cli.boolean(x) for x in ("true", "Yes", "1", "false", "no", "0")] == [True] * 3 + [
        False
    ] * 3
    with pytest.raises(Exception, match="not true or false"):
        cli.boolean("maybe")


def test_every_decoding_command_takes_the_same_search_options():
    """The search options are DecodeOptions' fields, parsed alike by every command."""
    import argparse
    from dataclasses import fields

    from osum.decode.search import DecodeOptions

    assert set(cli.SEARCH_OPTIONS) == {f.name for f in fields(DecodeOptions)} - {"nbest"}
    parser = argparse.ArgumentParser()
    cli.add_search_options(parser)
    args = parser.parse_args(["--beam_size", "4", "--do_sample", "--monotonic_times", "false"])
    opts = cli.search_options(args)
    assert opts["beam_size"] == 4 and opts["do_sample"] is True
    assert opts["monotonic_times"] is False
    assert opts["chunk_seconds"] == 30.0 and opts["prompt_language"] is None
    DecodeOptions(**{k: opts[k] for k in cli.SEARCH_OPTIONS})  # every one a field
    for name in ("osum_inference", "decode_files", "serve"):
        src = (Path(osum.bin.__file__).parent / f"{name}.py").read_text()
        assert "add_search_options(parser)" in src and "search_options(args)" in src, name
