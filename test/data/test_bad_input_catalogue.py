"""The bad-input catalogue: each case is input a user can hand a recipe step, run through
the code the recipes run, and what it must get: an error or a warning that names the
file, the line or the utterance, with the good utterances going on.

``pytest test/data/test_bad_input_catalogue.py -v`` lists the cases by name (``-m "not
slow"`` leaves out the few that start a training or a decoding command); a case that
passes is handled.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
import torch

from helpers import ASSIGN, LABELS, read_kv, run_train, write
from osum.data.audio import audio_info
from osum.data.dump import dump
from osum.data.kaldi import DataError
from osum.dev.tiny_setup import tiny_config, train_command, write_config

REPO = Path(__file__).resolve().parents[2]
CASES = {}  # name -> (function of a SimpleNamespace of fixtures, marks)


def case(name, *marks):
    def register(fn):
        assert name not in CASES, name
        CASES[name] = (fn, marks)
        return fn

    return register


# ---------------------------------------------------------------- helpers
def wav_scp(data: Path) -> dict:
    return read_kv(data / "wav.scp")


def set_wav(data: Path, utt: str, entry: str) -> None:
    wav = wav_scp(data)
    wav[utt] = entry
    write(data / "wav.scp", wav)


def dump_one_bad(fx, entry, utt="en0-002", **kw):
    """Dump the data dir with ``utt``'s audio replaced by ``entry``; the other 11 must be
    dumped, whole. Returns (counts, {utt: reason} of skipped, {utt: reason} of warnings)."""
    set_wav(fx.data, utt, str(entry))
    out = fx.tmp / "dump"
    counts = dump(str(fx.data), str(out), **kw)
    others = set(wav_scp(fx.data)) - {utt}
    dumped = wav_scp(out)
    assert others <= set(dumped), "a good utterance was lost"
    for u in others:
        assert soundfile.info(dumped[u]).frames > 0
    warnings = read_kv(out / "warnings") if (out / "warnings").is_file() else {}
    return counts, read_kv(out / "skipped"), warnings


def speech(fx, utt="en0-002"):
    return soundfile.read(wav_scp(fx.data)[utt], dtype="float32")[0]


def run(*cmd, cwd=None):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)


def validate_sh(data):
    return run(str(REPO / "utils" / "validate_data_dir.sh"), "--no-feats", str(data))


def with_tasks(fx):
    """The data dir with every task's files (test/helpers.py's ASSIGN and LABELS)."""
    write(fx.data / "utt2task", ASSIGN)
    for name, rows in LABELS.items():
        write(fx.data / name, rows)
    write(fx.data / "utt2answer", {"en1-003": "you should call her"})
    return fx.data


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def train_main_fails(fx, config: dict, *extra) -> str:
    """osum_train's main on ``config`` (YAML) fails before training: its message."""
    from osum.train.task import main

    path = write_config(fx.tmp / "train.yaml", config)
    cmd = train_command(path, fx.data, fx.tmp / "exp", *extra)[3:]
    with pytest.raises(SystemExit) as e:
        main(cmd)
    return str(e.value.code)


# ---------------------------------------------------------------- audio (stage 2's dump)
@case("wav_cut_short")
def _(fx):
    """A partial copy: header intact, samples cut: was a 30 ms utterance with a whole
    sentence of transcript, and nothing warned."""
    cut = fx.tmp / "cut.wav"
    cut.write_bytes(Path(wav_scp(fx.data)["en0-002"]).read_bytes()[: 44 + 960])
    counts, skipped, _ = dump_one_bad(fx, cut)
    assert counts == {"dumped": 11, "skipped": 1}
    assert skipped["en0-002"].startswith(f"{cut}: cut short: its header declares")
    with pytest.raises(RuntimeError, match="cut short"):
        audio_info(cut)  # durations (ctm checks) and the sample-rate check read headers


@case("wav_empty")
def _(fx):
    empty = fx.tmp / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 16000)
    counts, skipped, _ = dump_one_bad(fx, empty)
    assert counts["skipped"] == 1 and "empty" in skipped["en0-002"]


@case("wav_zero_bytes")
def _(fx):
    (fx.tmp / "zero.wav").write_bytes(b"")
    counts, skipped, _ = dump_one_bad(fx, fx.tmp / "zero.wav")
    assert counts["skipped"] == 1 and skipped["en0-002"].startswith("cannot read")


@case("wav_all_zeros_kept_with_a_warning")
def _(fx):
    """Digital silence is kept (an answer for some tasks) and listed in warnings."""
    zeros = fx.tmp / "zeros.wav"
    soundfile.write(zeros, np.zeros(16000, dtype=np.float32), 16000)
    counts, _, warnings = dump_one_bad(fx, zeros)
    assert counts == {"dumped": 12, "skipped": 0}
    assert warnings == {"en0-002": f"{zeros}: all samples are zero (kept)"}


def _nonfinite(fx, value):
    bad = fx.tmp / "nonfinite.wav"
    audio = speech(fx)
    audio[100] = value
    soundfile.write(bad, audio, 16000, subtype="FLOAT")
    counts, skipped, _ = dump_one_bad(fx, bad)
    assert counts["skipped"] == 1 and skipped["en0-002"] == f"{bad}: NaN or inf samples"


case("wav_float_nan")(lambda fx: _nonfinite(fx, np.nan))
case("wav_float_inf")(lambda fx: _nonfinite(fx, np.inf))


@case("wav_8k_stereo_converted")
def _(fx):
    audio = speech(fx)
    other = fx.tmp / "8k_stereo.wav"
    soundfile.write(other, np.stack([audio[::2], 0.5 * audio[::2]], 1), 8000)
    counts, _, _ = dump_one_bad(fx, other)
    assert counts == {"dumped": 12, "skipped": 0}
    got, rate = soundfile.read(wav_scp(fx.tmp / "dump")["en0-002"], dtype="float32")
    assert rate == 16000 and got.ndim == 1 and abs(len(got) - 2 * len(audio[::2])) <= 2


@case("wav_longer_than_30s_in_training")
def _(fx):
    long = fx.tmp / "long.wav"
    soundfile.write(long, np.tile(speech(fx), 31 * 16000 // len(speech(fx)) + 1), 16000)
    counts, skipped, _ = dump_one_bad(fx, long, max_seconds=30.0)
    assert counts["skipped"] == 1 and "is longer than 30.0 s" in skipped["en0-002"]


# ---------------------------------------------------------------- data files
@case("duplicate_id")
def _(fx):
    lines = (fx.data / "text").read_text().splitlines()
    (fx.data / "text").write_text("\n".join(lines[:3] + lines[2:]) + "\n")
    res = validate_sh(fx.data)
    assert res.returncode == 1 and f"{fx.data}/text: line 4: duplicate key en0-002" in res.stderr
    lines = (fx.data / "wav.scp").read_text().splitlines()
    (fx.data / "wav.scp").write_text("\n".join(lines[:3] + lines[2:]) + "\n")
    with pytest.raises(DataError, match=r"wav.scp:4: en0-002 repeats line 3"):
        dump(str(fx.data), str(fx.tmp / "dump"))


@case("unsorted_ids")
def _(fx):
    lines = (fx.data / "utt2spk").read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    (fx.data / "utt2spk").write_text("\n".join(lines) + "\n")
    res = validate_sh(fx.data)
    assert res.returncode == 1 and f"{fx.data}/utt2spk: line 3: not sorted" in res.stderr


@case("segments_line_malformed")
def _(fx):
    """The dump command names the file and line (it was a ValueError of unpacking)."""
    segs = {u: f"{u} 0 -1" for u in wav_scp(fx.data)}
    segs["en0-001"] = "en0-001 0"
    write(fx.data / "segments", segs)
    res = run(sys.executable, "-m", "osum.bin.dump", str(fx.data), str(fx.tmp / "dump"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    want = f"{fx.data}/segments:2: expected '<utt> <recording> <start> <end>' for en0-001"
    assert want in res.stderr


@case("path_with_spaces_quotes_dollar_semicolon_read_literally")
def _(fx):
    """A wav.scp path is a file name, never seen by a shell: nothing in it runs."""
    weird = fx.tmp / "a b $HOME 'q\" $(touch PWNED); `touch PWNED` | x.wav"
    shutil.copy(wav_scp(fx.data)["en0-002"], weird)
    os.chdir(fx.tmp)
    counts, _, _ = dump_one_bad(fx, weird)
    assert counts == {"dumped": 12, "skipped": 0}
    assert not (fx.tmp / "PWNED").exists()
    assert validate_sh(fx.data).returncode == 0


@case("path_missing_with_dollar_is_not_expanded")
def _(fx):
    home = fx.tmp / "home"
    home.mkdir()
    shutil.copy(wav_scp(fx.data)["en0-002"], home / "a.wav")
    os.environ["OSUM_TEST_DIR"] = str(home)
    try:
        _, skipped, _ = dump_one_bad(fx, "$OSUM_TEST_DIR/a.wav")
    finally:
        del os.environ["OSUM_TEST_DIR"]
    assert skipped == {"en0-002": "audio file $OSUM_TEST_DIR/a.wav not found"}


@case("pipe_entry_is_the_one_shell_form")
def _(fx):
    spaced = fx.tmp / "with space.wav"
    shutil.copy(wav_scp(fx.data)["en0-002"], spaced)
    counts, _, _ = dump_one_bad(fx, f"sox '{spaced}' -t wav - |")
    assert counts == {"dumped": 12, "skipped": 0}


@case("ids_with_quotes_dollar_and_slash")
def _(fx):
    """Odd utterance ids are kept as they are (a '/' cannot be in a file name: %2F)."""
    src = wav_scp(fx.data)["en0-002"]
    ids = ["s-a'b\"c", "s-x$(touch${IFS}PWNED)", "s-y/z%"]
    write(fx.data / "wav.scp", {u: src for u in ids})
    write(fx.data / "utt2spk", {u: "s" for u in ids})
    write(fx.data / "text", {u: "one two three" for u in ids})
    write(fx.data / "spk2utt", {"s": " ".join(sorted(ids))})
    for name in ("speech_shape",):
        (fx.data / name).unlink()
    assert validate_sh(fx.data).returncode == 0
    os.chdir(fx.tmp)
    assert dump(str(fx.data), str(fx.tmp / "dump")) == {"dumped": 3, "skipped": 0}
    dumped = wav_scp(fx.tmp / "dump")
    assert sorted(dumped) == sorted(ids) and dumped["s-y/z%"].endswith("/wav/s-y%2Fz%25.wav")
    assert not (fx.tmp / "PWNED").exists()


@case("id_with_a_space")
def _(fx):
    """``en0 -002 PATH``: the id is "en0"; validation names wav.scp and that id."""
    edit(fx.data / "wav.scp", "en0-002 ", "en0 -002 ")
    res = validate_sh(fx.data)
    assert res.returncode == 1 and "wav.scp: line 3: not sorted" in res.stderr


# ---------------------------------------------------------------- labels
@case("unknown_task")
def _(fx):
    data = with_tasks(fx)
    edit(data / "utt2task", "en0-003 SER", "en0-003 EMO")
    res = run(sys.executable, "-m", "osum.bin.validate_tasks", str(data))
    assert res.returncode == 1 and f"{data}/utt2task:4: unknown task 'EMO' of en0-003" in res.stderr
    res = run(sys.executable, "-m", "osum.bin.prepare_task_info", str(data))
    assert res.returncode == 1 and "utt2task:4: unknown task 'EMO' of en0-003" in res.stderr
    assert not (data / "utt2taskinfo").exists()


@case("unknown_label")
def _(fx):
    data = with_tasks(fx)
    edit(data / "utt2emotion", "happy", "bored")
    res = run(sys.executable, "-m", "osum.bin.validate_tasks", str(data))
    assert res.returncode == 1
    assert f"{data}/utt2emotion:1: emotion label 'bored' of en0-003 is not one of" in res.stderr
    res = validate_sh(data)
    assert res.returncode == 1 and "utt2emotion:1: emotion label 'bored'" in res.stderr


@case("unknown_task_in_training_data")
def _(fx):
    from osum.asrx.preprocess import OSUMPreprocessor

    pre = OSUMPreprocessor(train=True, tokenizer=fx.tiny["llm"])
    item = {"speech": speech(fx), "text": "hi", "task": '{"task": "EMO"}'}
    with pytest.raises(ValueError, match=r"utterance en0-002: unknown task 'EMO'"):
        pre("en0-002", item)


# ---------------------------------------------------------------- configs
@case("train_config_unknown_key")
def _(fx):
    msg = train_main_fails(fx, tiny_config(fx.tiny, max_epochs=1))
    assert (
        msg
        == f"osum_train: {fx.tmp}/train.yaml: unknown option 'max_epochs' (did you mean 'max_epoch'?)"
    )


@case("train_config_misspelled_key_in_a_section")
def _(fx):
    config = tiny_config(fx.tiny)
    config["encoder_conf"]["initt"] = config["encoder_conf"].pop("init")
    config["llm_conf"]["lora_conf"]["lora_dropuot"] = 0.1
    msg = train_main_fails(fx, config)
    lines = msg.splitlines()
    assert lines[0].startswith(
        f"osum_train: {fx.tmp}/train.yaml: encoder_conf: unknown option 'initt' (did you mean 'init'?)"
    )
    assert "llm_conf.lora_conf: unknown option 'lora_dropuot' (did you mean 'lora_dropout'?)" in msg


@case("train_config_unknown_component")
def _(fx):
    msg = train_main_fails(fx, tiny_config(fx.tiny, encoder="whisperr"))
    assert (
        "train.yaml: encoder 'whisperr' is not one of ['whisper'] (did you mean 'whisper'?)" in msg
    )


@case("train_config_not_yaml")
def _(fx):
    (fx.tmp / "bad.yaml").write_text("encoder: whisper\n  bad: [\n")
    from osum.train.task import main

    with pytest.raises(SystemExit) as e:
        main(["--config", str(fx.tmp / "bad.yaml"), "--output_dir", str(fx.tmp / "exp")])
    assert str(e.value.code).startswith(f"osum_train: {fx.tmp}/bad.yaml: not valid YAML (")


@case("inference_config_unknown_key")
def _(fx):
    """ESPnet's parser (osum_inference's) names the key and the file, after its usage."""
    from osum.bin.osum_inference import main

    (fx.tmp / "decode.yaml").write_text("beam_sise: 4\n")
    with pytest.raises(SystemExit) as e:
        main(["--config", str(fx.tmp / "decode.yaml"), "--train_config", "x", "--output_dir",
              "o", "--data_path_and_name_and_type", "w,speech,sound"])  # fmt: skip
    assert e.value.code != 0
    err = fx.capsys.readouterr().err
    assert f"unrecognized arguments: beam_sise (from {fx.tmp}/decode.yaml)" in err


@case("inference_config_of_the_recipes_is_not_refused", pytest.mark.slow)
def _(fx):
    """A good inference config: the model's loading once parsed the command line again,
    as a training one, and refused every decoding option in it (stage 4's
    --inference_config conf/decode_osum.yaml: "unrecognized arguments: beam_size")."""
    (fx.tmp / "keys").write_text("en0-002 x\n")
    res = run(
        sys.executable, "-m", "osum.bin.osum_inference", "--config",
        str(REPO / "egs" / "TEMPLATE" / "osum1" / "conf" / "decode_osum.yaml"),
        "--train_config", str(fx.models.config), "--model_file", str(fx.models.pth),
        "--output_dir", str(fx.tmp / "decode"), "--max_new_tokens", "2", "--key_file",
        str(fx.tmp / "keys"), "--data_path_and_name_and_type", f"{fx.data}/wav.scp,speech,sound",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]


@case("model_config_misspelled_key")
def _(fx):
    from osum.decode.speech2text import Speech2Text

    config = tiny_config(fx.tiny)
    config["speech_adapter_conf"]["num_block"] = config["speech_adapter_conf"].pop("num_blocks")
    path = write_config(fx.tmp / "exp" / "config.yaml", config)
    want = rf"{re.escape(str(path))}: speech_adapter_conf: unknown option 'num_block'"
    with pytest.raises(ValueError, match=want):
        Speech2Text(path, fx.models.pth)


# ---------------------------------------------------------------- model files
@case("decode_truncated_checkpoint")
def _(fx):
    from osum.decode.speech2text import Speech2Text

    with pytest.raises(RuntimeError) as e:
        Speech2Text(fx.models.config, fx.models.cut)
    assert str(e.value).startswith(f"{fx.models.cut}: not a whole checkpoint, cut short")


@case("decode_checkpoint_of_another_size")
def _(fx):
    from osum.decode.speech2text import Speech2Text

    with pytest.raises(RuntimeError) as e:
        Speech2Text(fx.models.config, fx.models.big)
    assert str(e.value).startswith(
        f"{fx.models.big}: parameter adapter.speech_transformer.encoders.0.feed_forward.w_1"
        f".weight is [256, 64] in the file but [128, 64] in the model built from "
        f"{fx.models.config} (and 2 more)"
    )


@case("decode_command_truncated_checkpoint", pytest.mark.slow)
def _(fx):
    """osum_inference, as stage 4 runs it: one line naming the file, no traceback."""
    res = run(
        sys.executable, "-m", "osum.bin.osum_inference", "--train_config", str(fx.models.config),
        "--model_file", str(fx.models.cut), "--output_dir", str(fx.tmp / "decode"),
        "--data_path_and_name_and_type", f"{fx.data}/wav.scp,speech,sound",
    )  # fmt: skip
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"osum_inference: {fx.models.cut}: not a whole checkpoint" in res.stderr


@case("train_init_truncated_checkpoint", pytest.mark.slow)
def _(fx):
    config = write_config(fx.tmp / "train.yaml", tiny_config(fx.tiny, max_epoch=1))
    cmd = train_command(config, fx.data, fx.tmp / "exp", "--init_param", str(fx.models.cut))
    proc = run_train(cmd, cwd=fx.tmp, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"{fx.models.cut}: not a whole checkpoint, cut short or corrupt" in proc.stderr


@case("train_init_checkpoint_of_another_size", pytest.mark.slow)
def _(fx):
    config = write_config(fx.tmp / "train.yaml", tiny_config(fx.tiny, max_epoch=1))
    cmd = train_command(config, fx.data, fx.tmp / "exp", "--init_param", str(fx.models.big))
    proc = run_train(cmd, cwd=fx.tmp, check=False)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert (
        f"--init_param {fx.models.big}: parameter adapter.speech_transformer.encoders.0."
        "feed_forward.w_1.weight is [256, 64] in the file but [128, 64]" in proc.stderr
    )


# ---------------------------------------------------------------- the run
@pytest.fixture(scope="module")
def model_files(tiny_dirs, tmp_path_factory):
    """config.yaml and model.pth of the tiny model (untrained), the file cut in half, and
    a model.pth of an adapter twice as wide."""
    from osum.train.task import OSUMTask

    root = tmp_path_factory.mktemp("models")
    files = SimpleNamespace(config=root / "exp" / "config.yaml", pth=root / "exp" / "model.pth")
    files.cut, files.big = root / "cut.pth", root / "big.pth"
    for path, units in ((files.config, 128), (root / "big" / "config.yaml", 256)):
        config = tiny_config(tiny_dirs)
        config["speech_adapter_conf"]["linear_units"] = units
        model, _ = OSUMTask.build_model_from_file(write_config(path, config), None)
        torch.save(model.state_dict(), files.pth if units == 128 else files.big)
    whole = files.pth.read_bytes()
    files.cut.write_bytes(whole[: len(whole) // 2])
    return files


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=marks, id=name) for name, (_, marks) in CASES.items()]
)
def test_bad_input(name, request, speech_data, tiny_dirs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # a case may change it
    fx = SimpleNamespace(tmp=tmp_path, tiny=tiny_dirs, capsys=capsys)
    fx.data = tmp_path / "data"
    shutil.copytree(speech_data, fx.data)
    needs_models = any(w in name for w in ("checkpoint", "model_config", "of_the_recipes"))
    fx.models = request.getfixturevalue("model_files") if needs_models else None
    CASES[name][0](fx)
