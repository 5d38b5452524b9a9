"""osum.sh, the stage engine, on small hand-made recipe dirs: its options, markers and lock."""

import hashlib
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import soundfile

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


def recipe_in(tmp_path):
    """An empty recipe dir on the shared engine."""
    repo = ENGINE.parents[3]
    d = tmp_path / "recipe"
    d.mkdir()
    (d / "osum.sh").symlink_to(ENGINE)
    (d / "utils").symlink_to(repo / "utils")
    (d / "path.sh").write_text(f". {repo}/tools/activate_python.sh\n")
    (d / "cmd.sh").write_text(
        "export train_cmd=utils/run.pl cuda_cmd=utils/run.pl decode_cmd=utils/run.pl\n"
    )
    return d


def stage3(recipe, *opts):
    cmd = ["./osum.sh", "--stage", "3", "--stop_stage", "3", "--train_set", "tr"]
    cmd += ["--valid_set", "dv", "--test_sets", "ts", "--train_phases", "a:conf/a.yaml", *opts]
    return subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=60)


def test_pretrained_model_paths_are_checked_before_training(tmp_path):
    recipe = recipe_in(tmp_path)
    proc = stage3(recipe, "--llm_path", str(tmp_path / "no_qwen"))
    assert proc.returncode != 0
    assert f"llm_path={tmp_path / 'no_qwen'}" in proc.stderr
    assert "config.json" in proc.stderr and "tokenizer" in proc.stderr
    whisper = tmp_path / "whisper"
    whisper.mkdir()  # a dir without config.json
    proc = stage3(recipe, "--encoder_init", str(whisper))
    assert proc.returncode != 0 and f"encoder_init={whisper}" in proc.stderr
    assert "openai-whisper .pt" in proc.stderr
    # the recipe's pretrained.sh (like ESPnet's db.sh) sets them; options override it
    (recipe / "pretrained.sh").write_text(f"llm_path={tmp_path / 'from_file'}\n")
    proc = stage3(recipe)
    assert proc.returncode != 0 and f"llm_path={tmp_path / 'from_file'}" in proc.stderr
    assert not (recipe / "exp" / "osum").exists()


def test_a_bare_tiny_switches_to_the_cpu_check(tmp_path):
    recipe = recipe_in(tmp_path)
    for opts in (["--tiny"], ["--tiny", "true"], ["--tiny", "--nj", "3"]):
        proc = stage3(recipe, *opts)
        # the tiny models come first (and fail here: the recipe has no data/tr)
        assert "stage 3: tiny random models -> models" in proc.stderr, opts
        assert proc.returncode != 0 and "data/tr" in proc.stderr
    proc = stage3(recipe, "--tiny", "false", "--llm_path", str(tmp_path / "none"))
    assert "tiny random models" not in proc.stderr and "llm_path=" in proc.stderr


def test_several_gpus_train_in_one_process_each(tmp_path):
    recipe = recipe_in(tmp_path)
    (recipe / "conf").mkdir()
    (recipe / "conf" / "a.yaml").write_text("max_epoch: 1\n")
    record = recipe / "record.sh"  # a job runner that writes the command to its log
    record.write_text(
        '#!/usr/bin/env bash\n[ "$1" = --gpu ] && shift 2\nlog=$1; shift\necho "$@" > "$log"\n'
    )
    record.chmod(0o755)
    (recipe / "cmd.sh").write_text(f"export train_cmd={record} cuda_cmd={record}\n")
    for ngpu, distributed in (("0", False), ("1", False), ("4", True)):
        proc = stage3(recipe, "--ngpu", ngpu, "--exp_tag", f"g{ngpu}")
        assert proc.returncode == 0, proc.stderr
        cmd = (recipe / "exp" / f"g{ngpu}" / "a" / "train.log").read_text()
        assert "osum.bin.osum_train --config conf/a.yaml" in cmd and f"--ngpu {ngpu}" in cmd
        assert ("--multiprocessing_distributed true" in cmd) == distributed, (ngpu, cmd)


def test_a_decoded_set_is_kept_only_for_its_own_setup(tmp_path):
    """Stage 4 skips a finished set decoded with the same model and --decode_args, and
    refuses, naming both, one decoded with others (it never decodes over it)."""
    recipe = recipe_in(tmp_path)
    done = recipe / "exp" / "osum" / "decode_ts" / ".done"
    done.parent.mkdir(parents=True)

    def stage4(*opts):
        cmd = ["./osum.sh", "--stage", "4", "--stop_stage", "4", "--train_set", "tr"]
        cmd += ["--valid_set", "dv", "--test_sets", "ts", "--train_phases", "a:conf/a.yaml"]
        return subprocess.run([*cmd, *opts], cwd=recipe, capture_output=True, text=True)

    done.write_text("exp/osum/a/valid.loss.ave.pth --beam_size 4\n")
    proc = stage4("--decode_args", "--beam_size 4")
    assert proc.returncode == 0 and "stage 4: ts already decoded" in proc.stderr
    proc = stage4("--decode_args", "--beam_size 2")
    assert proc.returncode != 0
    assert "was decoded with 'exp/osum/a/valid.loss.ave.pth --beam_size 4', not" in proc.stderr
    assert "'exp/osum/a/valid.loss.ave.pth --beam_size 2'" in proc.stderr
    proc = stage4("--decode_args", "--beam_size 4", "--decode_model", "valid.acc.best.pth")
    assert proc.returncode != 0 and "valid.acc.best.pth --beam_size 4'" in proc.stderr
    done.write_text("")  # an empty .done (an older engine's): kept as it is
    assert "already decoded" in stage4("--decode_args", "--beam_size 2").stderr
    assert done.parent.exists()
    # an inference config is part of the setup, by its content
    (recipe / "conf").mkdir()
    config = recipe / "conf" / "decode.yaml"
    config.write_text("beam_size: 4\n")
    digest = hashlib.sha256(config.read_bytes()).hexdigest()[:12]
    done.write_text(f"exp/osum/a/valid.loss.ave.pth  --config conf/decode.yaml@{digest}\n")
    proc = stage4("--inference_config", "conf/decode.yaml")
    assert proc.returncode == 0 and "stage 4: ts already decoded" in proc.stderr
    config.write_text("beam_size: 2\n")
    proc = stage4("--inference_config", "conf/decode.yaml")
    assert proc.returncode != 0 and "--config conf/decode.yaml@" in proc.stderr
    proc = stage4("--inference_config", "conf/nothing.yaml")
    assert proc.returncode != 0 and "--inference_config conf/nothing.yaml not found" in proc.stderr


def stage1(recipe, *opts):
    cmd = ["./osum.sh", "--stage", "1", "--stop_stage", "1", "--train_set", "tr"]
    cmd += ["--valid_set", "dv", "--train_phases", "a:conf/a.yaml", *opts]
    return subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=120)


def test_stage1_records_its_sets_and_options(tmp_path):
    """local/data.sh gets --local_data_opts as words (quotes group them, nothing runs);
    a set asked for later is prepared then; other options are refused."""
    recipe = recipe_in(tmp_path)
    (recipe / "local").mkdir()
    data_sh = recipe / "local" / "data.sh"
    # prepares every set named after --sets, one utterance each, and logs its arguments
    data_sh.write_text(
        "#!/usr/bin/env bash\nset -e\nprintf '%s\\n' \"$@\" >> data_sh.args\necho --- >> data_sh.args\n"
        'while [ $# -gt 0 ]; do [ "$1" = --sets ] && sets=$2; shift; done\n'
        'for s in $sets; do mkdir -p data/$s; echo "$s-u1 /dev/null" > data/$s/wav.scp\n'
        '  echo "$s-u1 hello" > data/$s/text; echo "$s-u1 $s" > data/$s/utt2spk\n'
        '  echo "$s $s-u1" > data/$s/spk2utt; done\n'
    )
    data_sh.chmod(0o755)
    opts = "--sets 'tr dv ts ts2' --note $(touch pwned)"
    proc = stage1(recipe, "--test_sets", "ts", "--local_data_opts", opts)
    assert proc.returncode == 0, proc.stderr
    args = (recipe / "data_sh.args").read_text().split("---\n")[0].splitlines()
    assert args == ["--sets", "tr dv ts ts2", "--note", "$(touch", "pwned)"]
    assert not (recipe / "pwned").exists()
    marker = recipe / "data" / ".stage1.done"
    head = f"local_data_opts={opts} task_conf="
    assert marker.read_text().splitlines() == [head, "set=tr", "set=dv", "set=ts"]
    # the same sets again: nothing to prepare
    proc = stage1(recipe, "--test_sets", "ts", "--local_data_opts", opts)
    assert proc.returncode == 0 and "preparing" not in proc.stderr
    # a test set asked for later is prepared then, and recorded
    proc = stage1(recipe, "--test_sets", "ts ts2", "--local_data_opts", opts)
    assert proc.returncode == 0 and "stage 1: preparing ts2" in proc.stderr, proc.stderr
    assert (recipe / "data" / "ts2" / "utt2taskinfo").is_file()
    assert marker.read_text().splitlines() == [head, "set=tr", "set=dv", "set=ts", "set=ts2"]
    # other options: refused, naming both
    proc = stage1(recipe, "--test_sets", "ts", "--local_data_opts", "--sets 'tr dv ts'")
    assert proc.returncode != 0 and f"data/ was prepared with '{head}'" in proc.stderr
    assert "not 'local_data_opts=--sets 'tr dv ts' task_conf='" in proc.stderr
    marker.write_text("")  # an older engine's empty marker: the sets there stand
    proc = stage1(recipe, "--test_sets", "ts", "--local_data_opts", opts)
    assert proc.returncode == 0 and "preparing" not in proc.stderr


def test_a_set_that_stage1_does_not_prepare_is_named(tmp_path):
    recipe = recipe_in(tmp_path)
    (recipe / "local").mkdir()
    data_sh = recipe / "local" / "data.sh"
    data_sh.write_text(
        "#!/usr/bin/env bash\nfor s in tr dv ts; do mkdir -p data/$s\n"
        '  echo "$s-u1 /dev/null" > data/$s/wav.scp; echo "$s-u1 hi" > data/$s/text\n'
        '  echo "$s-u1 $s" > data/$s/utt2spk; echo "$s $s-u1" > data/$s/spk2utt; done\n'
    )
    data_sh.chmod(0o755)
    proc = stage1(recipe, "--test_sets", "ts tset")
    assert proc.returncode != 0
    assert "local/data.sh prepared no data/tset" in proc.stderr
    assert "prepared: dv tr ts" in proc.stderr
    assert not (recipe / "data" / ".stage1.done").exists()


def stage2(recipe):
    cmd = ["./osum.sh", "--stage", "2", "--stop_stage", "2", "--train_set", "tr", "--nj", "1"]
    cmd += ["--valid_set", "tr", "--test_sets", "ts", "--train_phases", "a:conf/a.yaml"]
    return subprocess.run(cmd, cwd=recipe, capture_output=True, text=True, timeout=300)


def test_a_dump_follows_its_data_dir(tmp_path):
    """A data dir changed after its dump (prepared again, or by hand) is dumped again;
    an unchanged one is kept."""
    recipe = recipe_in(tmp_path)
    for name in ("tr", "ts"):
        d = recipe / "data" / name
        d.mkdir(parents=True)
        wav = d / "a.wav"
        soundfile.write(wav, np.zeros(8000, dtype=np.float32) + 0.1, 16000)
        (d / "wav.scp").write_text(f"{name}-a {wav}\n")
        (d / "text").write_text(f"{name}-a hello\n")
        (d / "utt2spk").write_text(f"{name}-a s\n")
        (d / "spk2utt").write_text(f"s {name}-a\n")
        (d / "utt2taskinfo").write_text(f"{name}-a ASR\n")
    proc = stage2(recipe)
    assert proc.returncode == 0, proc.stderr
    assert (recipe / "dump/raw/ts/text").read_text() == "ts-a hello\n"
    proc = stage2(recipe)
    assert proc.returncode == 0 and "dumped" not in proc.stderr
    (recipe / "data/ts/text").write_text("ts-a hello there\n")
    proc = stage2(recipe)
    assert proc.returncode == 0, proc.stderr
    assert "data/ts changed since dump/raw/ts was dumped: dumping it again" in proc.stderr
    assert (recipe / "dump/raw/ts/text").read_text() == "ts-a hello there\n"
    # an older engine's .done (options only) is kept, and gets the digest
    done = recipe / "dump/raw/ts/.done"
    digest = done.read_text().split()[-1]
    done.write_text("max_seconds=0\n")
    proc = stage2(recipe)
    assert proc.returncode == 0 and "dumped" not in proc.stderr, proc.stderr
    assert done.read_text() == f"max_seconds=0 {digest}\n"
    # a set stage 1 never prepared is named
    (recipe / "data/tr").rename(recipe / "data/tr_old")
    proc = stage2(recipe)
    assert proc.returncode != 0 and "data/tr does not exist: run stage 1 for it" in proc.stderr


def test_one_run_at_a_time_in_a_recipe_dir(tmp_path):
    """A second run while the first (or any process it started) lives is refused, naming
    it; once the first is gone, the lock is free."""
    recipe = recipe_in(tmp_path)
    (recipe / "local").mkdir()
    data_sh = recipe / "local" / "data.sh"
    data_sh.write_text("#!/usr/bin/env bash\nwhile [ -f hold ]; do sleep 0.1; done\n")
    data_sh.chmod(0o755)
    (recipe / "hold").touch()  # the first run's stage 1 lasts until it is killed
    first = subprocess.Popen(
        ["./osum.sh", "--stop_stage", "1", "--train_set", "tr", "--valid_set", "dv"]
        + ["--test_sets", "ts", "--train_phases", "a:conf/a.yaml"],
        cwd=recipe,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.time() + 30
    while (
        "osum.sh" not in (recipe / "exp" / ".lock").read_text()
        if (recipe / "exp" / ".lock").exists()
        else True
    ):
        assert time.time() < deadline
        time.sleep(0.05)
    proc = stage1(recipe, "--test_sets", "ts")
    assert proc.returncode != 0
    assert "another run is using this recipe dir (started as: ./osum.sh --stop_stage 1" in (
        proc.stderr
    )
    assert "local/data.sh" in proc.stderr  # the processes that hold it
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    (recipe / "hold").unlink()
    proc = stage1(recipe, "--test_sets", "ts")
    assert "another run" not in proc.stderr
