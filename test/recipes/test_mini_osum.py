"""The stage engine end to end on the mini recipe: stages 1-5, skipping finished work,
resuming interrupted training and decoding."""

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "egs" / "mini_osum" / "osum1"


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    """A copy of egs/mini_osum/osum1 whose links point into this checkout."""
    d = tmp_path_factory.mktemp("egs") / "mini_osum" / "osum1"
    d.mkdir(parents=True)
    for name in ("run.sh", "cmd.sh", "conf", "local"):
        src = RECIPE / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, d / name)
    (d / "osum.sh").symlink_to(REPO / "egs" / "TEMPLATE" / "osum1" / "osum.sh")
    (d / "utils").symlink_to(REPO / "utils")
    (d / "path.sh").write_text(
        (RECIPE / "path.sh").read_text().replace("../../../tools", str(REPO / "tools"))
    )
    return d


DATA = "--train 4 --dev 2 --test 2 --whisper_dim 64 --llm_dim 64 --llm_layers 2"  # per task
COMMAND = ["./run.sh", "--local_data_opts", DATA, "--train_args", "--max_epoch 1"]
# the first full run's results, kept for the fault test (the tests below change them)
FIRST_RUN = {}


def run(recipe, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(
        [*COMMAND, *args],
        cwd=recipe,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )


def test_stages_1_to_5_then_skip_and_resume(recipe, tmp_path_factory):
    res = run(recipe)
    assert res.returncode == 0, res.stderr[-4000:]
    FIRST_RUN.update(
        dir=keep_results(recipe, tmp_path_factory.mktemp("first") / "osum1"), root=recipe
    )
    for f in [
        "data/train/utt2taskinfo",
        "data/test/utt2gender",
        "data/test/ctm",
        "data/test/utt2answer",
        "data/test/utt2event",
        "dump/raw/train/wav.scp",
        "dump/raw/train/speech_shape",
        "dump/raw/test/skipped",
        "exp/osum/1_encoder/valid.loss.ave.pth",
        "exp/osum/3_all/valid.loss.ave.pth",
        "exp/osum/3_all/images/loss.png",
        "exp/osum/decode_test/text",
        "exp/osum/decode_test/scores/result.json",
        "RESULTS.md",
        "RESULTS.json",
    ]:
        assert (recipe / f).exists(), f
    log = (recipe / "exp/osum/2_llm/train.log").read_text()
    assert "Loading pretrained params from exp/osum/1_encoder/valid.loss.ave.pth" in log
    # the default's text phase between phases 2 and 3, and phase 3 from it
    assert (recipe / "exp/osum/2t_answers/text_training.json").is_file()
    log = (recipe / "exp/osum/3_all/train.log").read_text()
    assert "Loading pretrained params from exp/osum/2t_answers/valid.loss.ave.pth" in log
    results = (recipe / "RESULTS.md").read_text()
    for task in ("ASR", "SRWT", "VED", "SER", "SSR", "SGC", "SAP", "STTC"):
        assert f"## {task} / test" in results, task
    for column in ("gender acc %", "emotion acc %", "event acc %", "AAS ms", "answer acc %"):
        assert column in results, column
    # it records itself: each stage's command, commit and machine, each row's model file
    # and decoding options (run.sh's --decode_args)
    head = [ln for ln in results.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert [ln.split(" | ")[0] for ln in head] == ["| 1", "| 2", "| 3", "| 4", "| 5"]
    assert all("`./run.sh --local_data_opts " in ln and " cores; GPUs: " in ln for ln in head)
    row = "| exp/osum/3_all/valid.loss.ave.pth | beam_size=4 ctc_weight=0.5 |"
    assert results.count(row) == 8

    again = run(recipe)
    assert again.returncode == 0, again.stderr[-4000:]
    assert "1_encoder already trained" in again.stderr and "test already decoded" in again.stderr

    # an interrupted decode: one job's results lost their last line, no .done marker
    (recipe / "exp/osum/decode_test/.done").unlink()
    job = recipe / "exp/osum/decode_test/logdir/output.1/results.jsonl"
    lines = job.read_text().splitlines()
    job.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    # and an interrupted last phase: its .done marker gone, its checkpoint kept
    (recipe / "exp/osum/3_all/.done").unlink()
    res = run(recipe, "--stage", "3", "--stop_stage", "4")
    assert res.returncode == 0, res.stderr[-4000:]
    assert (
        "The training has already reached at max_epoch"
        in (recipe / "exp/osum/3_all/train.log").read_text()
    )
    decode_log = (recipe / "exp/osum/decode_test/logdir/decode.1.log").read_text()
    assert f"{len(lines) - 1} of {len(lines)} utterances already decoded" in decode_log
    assert len((recipe / "exp/osum/decode_test/text").read_text().splitlines()) == 16
    exported_model_gives_the_same_outputs(recipe)


def keep_results(recipe, dest):
    """A copy of a run's results (what osum.dev.faults.compare reads)."""
    for name in ("data", "dump", "models", "exp", "RESULTS.md", "RESULTS.json"):
        src = recipe / name
        if src.is_dir():
            shutil.copytree(src, dest / name, symlinks=True)
        elif src.is_file():
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def test_killed_in_every_stage_and_run_again_gives_the_same_results(recipe, tmp_path):
    """The short form of bench/faults.py: the run's process group SIGKILLed once at each of
    a few moments (seeded delays), run again each time; no process outlives a kill, no
    rerun is refused, and the results equal the uninterrupted run's. Training is taken
    from that run (its kills are in test/train/test_task.py's resume tests and in the
    benchmark)."""
    from osum.dev import faults

    if "dir" not in FIRST_RUN:  # the test above did not run: an uninterrupted run here
        res = run(recipe)
        assert res.returncode == 0, res.stderr[-4000:]
        FIRST_RUN.update(dir=keep_results(recipe, tmp_path / "first" / "osum1"), root=recipe)
    reference = FIRST_RUN["dir"]
    rng = random.Random("test:0")
    moments = {m.name: m for m in faults.MOMENTS}
    other = faults.fresh_copy(tmp_path / "faulty")
    log = other / "faults.log"
    kills = [
        faults.kill_at(other, moments[name], rng, log, 0, COMMAND)
        for name in ("data preparation", "task information", "dump", "dump merge")
    ]
    for phase in (reference / "exp" / "osum").iterdir():  # trained as the first run was
        if (phase / ".done").is_file() and not phase.name.startswith("decode_"):
            shutil.rmtree(other / "exp" / "osum" / phase.name, ignore_errors=True)
            shutil.copytree(phase, other / "exp" / "osum" / phase.name, symlinks=True)
    kills += [
        faults.kill_at(other, moments[name], rng, log, 0, COMMAND)
        for name in ("decoding", "decode merge", "scoring", "results")
    ]
    assert faults.finish(other, log, COMMAND) == 0, log.read_text()[-4000:]
    landed = [k for k in kills if k.hit]
    assert len(landed) >= 6, [vars(k) for k in kills]
    assert all(not k.survivors for k in kills), [k.survivors for k in kills]
    assert not faults.refusals(log)
    assert faults.compare(reference, other, reference_root=FIRST_RUN["root"]) == []


def exported_model_gives_the_same_outputs(recipe):
    """The main job's own model (its LLM trained in full: trainable [adapter, encoder, llm])
    exports as a user would export it, and the export decodes as the experiment does."""
    from helpers import assert_same_outputs
    from osum.decode.speech2text import Speech2Text

    phase = "exp/osum/3_all"
    cmd = [sys.executable, "-m", "osum.bin.export_model", "--train_config", f"{phase}/config.yaml"]
    cmd += ["--model_file", f"{phase}/valid.loss.ave.pth", "--out", "exported"]
    res = subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    cwd = os.getcwd()
    os.chdir(recipe)  # the experiment's config names its model dirs relative to the recipe
    try:
        original = Speech2Text(f"{phase}/config.yaml", f"{phase}/valid.loss.ave.pth")
    finally:
        os.chdir(cwd)
    exported = Speech2Text(recipe / "exported")
    assert "llm" in exported.args.model_conf["trainable"]
    assert_same_outputs(original, exported, ("ASR", "SER", "SRWT", "STTC"))


def first_phase_trained(recipe):
    """Stages 1-2 and the default's first phase (exp/osum/1_encoder) as the full run does
    them: the test above's, when it ran first, or made here, and then reused by it."""
    if not (recipe / "exp/osum/1_encoder/.done").is_file():
        phase = "1_encoder:conf/train_1_encoder.yaml"
        res = run(recipe, "--stop_stage", "3", "--train_phases", phase)
        assert res.returncode == 0, res.stderr[-4000:]
    assert (recipe / "exp/osum/1_encoder/valid.loss.ave.pth").is_file()
    assert (recipe / "dump/raw/train/.done").is_file()


def test_a_text_phase_trains_the_previous_phases_llm(recipe):
    """A --train_phases entry whose config has llm_text_training: trains the LLM of the
    phase before it on the training text (STTC's questions and answers) and leaves the
    rest of the model as it was; the next phase starts from it."""
    import torch

    first_phase_trained(recipe)
    phases = (
        "2_llm:conf/train_2_llm.yaml 2t_answers:conf/train_2t_answers.yaml "
        "3_all:conf/train_3_all.yaml"
    )
    args = ["--stage", "3", "--stop_stage", "3", "--exp_tag", "text", "--train_phases", phases]
    res = run(recipe, *args, "--init_model", "exp/osum/1_encoder/valid.loss.ave.pth")
    assert res.returncode == 0, res.stderr[-4000:]
    report = (recipe / "exp/text/2t_answers/text_training.json").read_text()
    assert '"epochs": 40' in report and '"sequences"' in report
    before = torch.load(recipe / "exp/text/2_llm/valid.loss.ave.pth", weights_only=True)
    after = torch.load(recipe / "exp/text/2t_answers/valid.loss.ave.pth", weights_only=True)
    assert set(before) == set(after)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("llm.") for k in changed)
    assert "llm.lm_head.weight" in changed
    log = (recipe / "exp/text/3_all/train.log").read_text()
    assert "Loading pretrained params from exp/text/2t_answers/valid.loss.ave.pth" in log
    # first in the list, it has no LLM to train
    bad = run(recipe, "--stage", "3", "--stop_stage", "3", "--exp_tag", "text_first",
              "--train_phases", "2t:conf/train_2t_answers.yaml")  # fmt: skip
    assert bad.returncode != 0 and "put it after a speech phase" in bad.stderr
