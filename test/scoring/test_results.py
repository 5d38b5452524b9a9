"""RESULTS.md records itself: stage records (command, commit, machine, wall time), only
the sets asked for, and each row's model file and decoding options."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from osum.scoring.results import (
    collect,
    decoding_of,
    read_stages,
    record_stage,
    write_results,
)

REPO = Path(__file__).resolve().parents[2]
ASR = {"error_rate": 12.5, "utterances": 8}


def scored(exp: Path, test_set: str, search: dict, model_file: str) -> Path:
    """A decode dir as osum_inference and osum_score leave it."""
    d = exp / f"decode_{test_set}"
    (d / "scores").mkdir(parents=True)
    (d / "scores" / "result.json").write_text(json.dumps({"tasks": {"ASR": ASR}}))
    options = dict(train_config=str(exp / "3_all" / "config.yaml"), model_file=model_file)
    (d / "decode_options.json").write_text(json.dumps(dict(options, task=None, search=search)))
    return d


def test_decoding_options_are_those_that_differ_from_the_defaults():
    assert decoding_of({"search": {"beam_size": 1, "ctc_weight": 0.0}}) == "greedy"
    search = {"beam_size": 4, "max_new_tokens": 200, "ctc_weight": 0.5, "seed": None}
    assert decoding_of({"search": search}) == "beam_size=4 ctc_weight=0.5"
    assert decoding_of({"task": "SER", "search": {}}) == "task=SER"


def test_only_the_sets_asked_for_each_row_naming_its_model_and_options(tmp_path):
    exp = tmp_path / "exp" / "osum"
    scored(exp, "test", {"beam_size": 4}, "exp/osum/3_all/valid.loss.ave.pth")
    scored(exp, "old", {"beam_size": 1}, "exp/osum/2_llm/valid.loss.ave.pth")
    assert {e["test_set"] for e in collect([exp])} == {"test", "old"}
    entries = collect([exp], ["test"])
    assert [(e["test_set"], e["task"]) for e in entries] == [("test", "ASR")]
    assert entries[0]["model_file"] == "exp/osum/3_all/valid.loss.ave.pth"
    assert entries[0]["decoding"] == "beam_size=4"
    text = write_results(entries, tmp_path / "RESULTS.md", "mini").read_text()
    assert "| exp | model | model file | decoding | date | WER/CER % | utts |" in text
    assert "| exp/osum/3_all/valid.loss.ave.pth | beam_size=4 |" in text
    assert "## ASR / old" not in text
    with pytest.raises(FileNotFoundError, match="decode_tset: not scored"):
        collect([exp], ["tset"])


def test_stage_records_head_the_results(tmp_path):
    exp = tmp_path / "exp" / "osum"
    scored(exp, "test", {}, "m.pth")
    record_stage(str(exp), 3, 125, "./run.sh --stage 3 --train_args '--max_epoch 1'", ngpu=0)
    record_stage(str(exp), 1, 7, "./run.sh | tee log")
    records = read_stages(str(exp))
    assert [r["stage"] for r in records] == [1, 3]
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert records[1]["commit"].startswith(head)
    assert " cores; GPUs: " in records[1]["machine"]
    text = write_results(collect([exp]), tmp_path / "RESULTS.md", "mini", stages=records)
    lines = text.read_text().splitlines()
    row3 = next(ln for ln in lines if ln.startswith("| 3 |"))
    assert "| 2 min 05 s |" in row3 and "`./run.sh --stage 3 --train_args '--max_epoch 1'`" in row3
    assert "`./run.sh \\| tee log`" in next(ln for ln in lines if ln.startswith("| 1 |"))
    assert not list(exp.glob("stages/*.tmp"))


def test_make_results_refuses_a_set_that_was_not_scored(tmp_path):
    exp = tmp_path / "exp" / "osum"
    scored(exp, "test", {}, "m.pth")
    cmd = [sys.executable, "-m", "osum.bin.make_results", "--out", str(tmp_path / "R.md")]
    res = subprocess.run(
        cmd + ["--test_sets", "test tset", str(exp)], capture_output=True, text=True
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"make_results: {exp}/decode_tset: not scored (no {exp}/decode_tset/scores/result.json)"
    ]
    res = subprocess.run(cmd + ["--test_sets", "test", str(exp)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "## ASR / test" in (tmp_path / "R.md").read_text()
