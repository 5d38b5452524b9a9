"""Task files in data dirs: validation messages, utt2taskinfo, mixing, filtering, and a
training batch of every task through the model."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
import torch
from espnet2.train.collate_fn import CommonCollateFn

from helpers import ASSIGN, make_model, write
from osum.asrx.preprocess import OSUMPreprocessor
from osum.asrx.registry import TASKS
from osum.data.audio import read_audio
from osum.data.kaldi import durations
from osum.data.mix import filter_data_dir, mix_data_dirs, target_token_counter
from osum.data.task_files import load_task_info, validate_task_files, write_task_info

REPO = Path(__file__).resolve().parents[2]


def edit(path, old, new):
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def test_valid_dir_and_task_info(task_dir):
    assert validate_task_files(task_dir) == []
    out = write_task_info(task_dir)
    rows = dict(line.split(" ", 1) for line in out.read_text(encoding="utf-8").splitlines())
    assert len(rows) == 12
    info = json.loads(rows["en0-002"])
    assert info == {"task": "VED", "event": "throat clearing"}
    assert json.loads(rows["zh1-005"])["alignment"][1] == [0.5, 1.1, "天气很好"]
    assert json.loads(rows["en1-003"])["answer"] == "you should call her"


@pytest.mark.parametrize(
    "file,old,new,message",
    [
        ("utt2task", "en0-003 SER", "en0-003 EMO", r"utt2task:4: unknown task 'EMO' of en0-003"),
        ("utt2emotion", "happy", "bored", r"utt2emotion:1: emotion label 'bored' of en0-003"),
        ("ctm", "0.52 0.30 door", "0.52 9.30 door", r"ctm:3: en0-001: word ends at 9.82 s, after"),
        ("ctm", "0.32 0.18 the", "0.05 0.18 the", r"ctm:2: en0-001: word starts at 0.05 s, before"),
        ("ctm", "0.32 0.18 the", "0.32 the", r"ctm:2: expected '<utt> <start> <dur> <word>'"),
        ("ctm", "0.32 0.18 the", "0.32 -1 the", r"ctm:2: start must be >= 0 and duration > 0"),
        (
            "utt2answer",
            "en1-003 you should call her",
            "en1-002 hi",
            r"utt2answer: en1-003 \(task STTC\) has no answer",
        ),
        ("utt2task", "en0-000 ASR\n", "", r"utt2task: utterance en0-000 has no task"),
        ("utt2age", "en1-002 adult\n", "", r"utt2age: en1-002 \(task SAP\) has no age label"),
        (
            "utt2gender",
            "en1-001 male",
            "zz-9 male",
            r"utt2gender:\d+: utterance zz-9 is not in utt2spk",
        ),
    ],
)
def test_each_bad_task_file_is_named(task_dir, file, old, new, message):
    edit(task_dir / file, old, new)
    errors = validate_task_files(task_dir)
    assert any(re.search(message, e) for e in errors), errors


def test_non_utf8_label_file(task_dir):
    (task_dir / "utt2emotion").write_bytes(b"en0-003 h\xffppy\n")
    assert any("utt2emotion:1: not valid UTF-8" in e for e in validate_task_files(task_dir))


def validate_sh(data_dir):
    """utils/validate_data_dir.sh with this interpreter's osum on the PATH."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    cmd = [str(REPO / "utils" / "validate_data_dir.sh"), "--no-feats", str(data_dir)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def test_validate_data_dir_sh_runs_the_task_checks(task_dir):
    ok = validate_sh(task_dir)
    assert ok.returncode == 0, ok.stderr
    edit(task_dir / "utt2emotion", "happy", "bored")
    bad = validate_sh(task_dir)
    assert bad.returncode == 1 and "utt2emotion:1:" in bad.stderr


def load_batch(data_dir, pre):
    wav = dict(line.split() for line in open(data_dir / "wav.scp"))
    text = dict(
        line.rstrip("\n").split(" ", 1) for line in open(data_dir / "text", encoding="utf-8")
    )
    info = dict(
        line.rstrip("\n").split(" ", 1)
        for line in open(data_dir / "utt2taskinfo", encoding="utf-8")
    )
    items = []
    for uid in sorted(wav):
        audio, _ = soundfile.read(wav[uid], dtype="float32")
        items.append((uid, pre(uid, {"speech": audio, "text": text[uid], "task": info[uid]})))
    return CommonCollateFn(float_pad_value=0.0, int_pad_value=-1)(items)


def test_batch_of_every_task_through_the_model(task_dir, tiny_dirs):
    write_task_info(task_dir)
    pre = OSUMPreprocessor(train=True, tokenizer=tiny_dirs["llm"])
    uids, batch = load_batch(task_dir, pre)
    assert {ASSIGN[u] for u in uids} == set(TASKS)
    targets = [pre.tokenizer.decode(t[t >= 0][:-1].tolist()) for t in batch["text"]]
    assert targets[uids.index("en0-002")] == "one two three<throat clearing>"
    assert targets[uids.index("zh0-005")] == "<child><female>"
    assert targets[uids.index("en0-001")].startswith("<0.10>open<0.30><0.32>the<0.50>")
    model = make_model(tiny_dirs, trainable=("adapter", "lora")).train()
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss)
    loss.backward()


def test_ctc_text_is_the_transcript_of_every_task_that_says_one(task_dir, tiny_dirs):
    write_task_info(task_dir)
    pre = OSUMPreprocessor(train=True, tokenizer=tiny_dirs["llm"], ctc_text=True)
    uids, batch = load_batch(task_dir, pre)
    ctc = {
        u: pre.tokenizer.decode(t[:n].tolist())
        for u, t, n in zip(uids, batch["ctc_text"], batch["ctc_text_lengths"])
    }
    assert ctc["en0-002"] == "one two three"  # VED: the transcript, not the tag
    assert ctc["en0-001"].startswith("open the")  # SRWT: no times
    assert ctc["zh0-005"] == ""  # AGE_GENDER: no transcript
    model = make_model(tiny_dirs, trainable=("adapter", "encoder"), ctc_weight=0.5).train()
    loss, stats, _ = model(**batch)
    assert torch.isfinite(loss) and stats["loss_ctc"] > 0
    loss.backward()


def test_ctc_labels_put_the_tags_after_the_transcript(task_dir, tiny_dirs):
    write_task_info(task_dir)
    pre = OSUMPreprocessor(train=True, tokenizer=tiny_dirs["llm"], ctc_text=True, ctc_labels=True)
    uids, batch = load_batch(task_dir, pre)
    ctc = {
        u: pre.tokenizer.decode(t[:n].tolist())
        for u, t, n in zip(uids, batch["ctc_text"], batch["ctc_text_lengths"])
    }
    assert ctc["en0-002"] == "one two three<throat clearing>"  # VED: transcript and tag
    assert ctc["zh0-005"] == "<child><female>"  # AGE_GENDER: the tags alone
    assert ctc["en0-001"].startswith("open the") and "<" not in ctc["en0-001"]  # SRWT
    assert ctc["en1-003"] == "call my mother"  # STTC: the question, not the answer
    plain = OSUMPreprocessor(train=True, tokenizer=tiny_dirs["llm"], ctc_text=True)
    _, without = load_batch(task_dir, plain)
    assert without["ctc_text"].shape[1] < batch["ctc_text"].shape[1]


def test_validation_prompt_is_fixed_and_training_prompts_vary(tiny_dirs):
    train = OSUMPreprocessor(train=True, tokenizer=tiny_dirs["llm"])
    valid = OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"], prompt_languages=["zh"])
    assert {train.prompt_for("SER") for _ in range(60)} == set(TASKS["SER"].prompts["en"]) | set(
        TASKS["SER"].prompts["zh"]
    )
    assert {valid.prompt_for("SER") for _ in range(5)} == {TASKS["SER"].prompts["zh"][0]}


def test_mix_with_weights_and_report(task_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    for name in ("wav.scp", "text", "utt2spk"):
        rows = {}
        for line in (task_dir / name).read_text(encoding="utf-8").splitlines():
            key, value = line.split(" ", 1)
            if key.startswith("en0-"):
                rows[key.replace("en0-", "xx0-")] = "xx0" if name == "utt2spk" else value
        write(other / name, rows)
    write_task_info(task_dir)
    out = tmp_path / "mix"
    report = mix_data_dirs([(str(task_dir), 2), (str(other), 0.5)], str(out))
    utts = (out / "utt2spk").read_text().splitlines()
    assert 24 < len(utts) <= 28  # 12 x 2 plus about half of 4
    assert "en0-003_rep2 en0" in utts
    assert report["per_task"]["SER"]["utterances"] == 2
    assert report["per_source"][str(task_dir)]["utterances"] == 24
    assert report["per_source"][str(task_dir)]["hours"] > 0
    info = load_task_info(out)
    assert info["en0-003_rep2"] == {"task": "SER", "emotion": "happy"}
    assert validate_task_files(out) == []
    res = validate_sh(out)
    assert res.returncode == 0, res.stderr
    with pytest.raises(ValueError, match="in both"):
        mix_data_dirs([(str(task_dir), 1), (str(task_dir), 1)], str(tmp_path / "dup"))


def test_filter_long_audio_and_long_targets(task_dir, tiny_dirs, tmp_path):
    report = filter_data_dir(
        str(task_dir), str(tmp_path / "f1"), max_seconds=2.0, max_target_tokens=None
    )
    dropped = (tmp_path / "f1" / "dropped").read_text().splitlines()
    assert report["dropped"] == len(dropped) == 2  # the two long Mandarin sentences
    assert all("audio" in d and d.split()[0].endswith("-005") for d in dropped)
    count = target_token_counter(tiny_dirs["llm"])
    report = filter_data_dir(
        str(task_dir),
        str(tmp_path / "f2"),
        max_seconds=None,
        max_target_tokens=12,
        count_tokens=count,
    )
    dropped = dict(
        line.split(" ", 1) for line in (tmp_path / "f2" / "dropped").read_text().splitlines()
    )
    assert "en0-001" in dropped and "tokens > 12" in dropped["en0-001"]  # SRWT targets are long
    assert report["kept"] + report["dropped"] == 12
    assert validate_task_files(tmp_path / "f2") == []


def test_fix_data_dir_filters_sparse_task_files(task_dir):
    edit(task_dir / "text", "en0-001 open the door\n", "")  # the SRWT utterance loses its text
    edit(task_dir / "text", "en0-003 call my mother\n", "")  # and the SER one
    res = subprocess.run(
        [str(REPO / "utils/fix_data_dir.sh"), str(task_dir)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert "kept 10 utterances out of 12" in res.stdout
    assert "en0-001" not in (task_dir / "ctm").read_text()
    assert "zh1-005 0.50 0.60" in (task_dir / "ctm").read_text()
    assert (task_dir / "utt2emotion").read_text() == ""
    assert "en0-003" not in (task_dir / "utt2task").read_text()
    assert validate_task_files(task_dir) == []


def test_one_recording_serves_several_tasks(task_dir):
    wav = dict(line.split() for line in (task_dir / "wav.scp").read_text().splitlines())
    for name, value in (
        ("wav.scp", wav["en0-003"]),
        ("text", "call my mother"),
        ("utt2spk", "en0"),
        ("utt2task", "SGC"),
        ("utt2gender", "male"),
    ):
        rows = dict(line.split(" ", 1) for line in (task_dir / name).read_text().splitlines())
        rows["en0-003b"] = value
        write(task_dir / name, rows)
    (task_dir / "spk2utt").write_text(
        subprocess.run(
            [str(REPO / "utils/utt2spk_to_spk2utt.pl"), str(task_dir / "utt2spk")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert validate_task_files(task_dir) == []
    info = load_task_info(task_dir)
    assert info["en0-003"]["task"] == "SER" and info["en0-003b"] == {
        "task": "SGC",
        "gender": "male",
    }
    res = validate_sh(task_dir)
    assert res.returncode == 0, res.stderr


def test_command_line_tools(task_dir, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True)

    res = run("osum.bin.prepare_task_info", str(task_dir))
    assert res.returncode == 0 and (task_dir / "utt2taskinfo").is_file()
    res = run("osum.bin.mix_data", "--out", str(tmp_path / "mix"), f"{task_dir}:1.5")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["per_source"][str(task_dir)]["utterances"] > 12
    res = run("osum.bin.filter_data", "--max_seconds", "2", str(task_dir), str(tmp_path / "f"))
    assert res.returncode == 0 and json.loads(res.stdout)["dropped"] == 2
    edit(task_dir / "utt2emotion", "happy", "bored")
    res = run("osum.bin.validate_tasks", str(task_dir))
    assert (
        res.returncode == 1 and "validate_tasks: " in res.stderr and "utt2emotion:1:" in res.stderr
    )
    res = run("osum.bin.prepare_task_info", str(task_dir))
    assert res.returncode == 1 and "prepare_task_info: " in res.stderr


def test_ctm_words_with_brackets_are_rejected(task_dir):
    edit(task_dir / "ctm", "0.32 0.18 the", "0.32 0.18 <unk>")
    assert any("ctm:2: en0-001: word '<unk>'" in e for e in validate_task_files(task_dir))


def test_mix_of_segmented_and_plain_dirs(task_dir, tmp_path):
    seg = tmp_path / "seg"
    seg.mkdir()
    wav = dict(line.split() for line in (task_dir / "wav.scp").read_text().splitlines())
    write(seg / "wav.scp", {"rec1": wav["en0-000"]})
    write(seg / "segments", {"sx-a": "rec1 0.0 0.5", "sx-b": "rec1 0.5 1.0"})
    write(seg / "text", {"sx-a": "turn on", "sx-b": "the light"})
    write(seg / "utt2spk", {"sx-a": "sx", "sx-b": "sx"})
    out = tmp_path / "mix"
    mix_data_dirs([(str(seg), 1), (str(task_dir), 1)], str(out))
    segments = dict(line.split(" ", 1) for line in (out / "segments").read_text().splitlines())
    recos = dict(line.split(" ", 1) for line in (out / "wav.scp").read_text().splitlines())
    assert len(segments) == 14 and segments["sx-b"] == "rec1 0.5 1.0"
    # a file without segments is one segment to its end, whatever its utt2dur says
    assert segments["en0-003"] == "en0-003 0 -1" and recos["en0-003"] == wav["en0-003"]
    assert set(recos) == {s.split()[0] for s in segments.values()}
    res = validate_sh(out)
    assert res.returncode == 0, res.stderr
    secs = durations(out)
    assert secs["sx-b"] == 0.5
    assert abs(secs["en0-003"] - soundfile.info(wav["en0-003"]).duration) < 1e-3
    dumped = read_audio(recos["en0-003"], 0.0, -1.0)  # the dump's reader: the whole file
    assert abs(len(dumped) / 16000 - secs["en0-003"]) < 1e-3
    # without utt2dur, "to the end" segments are measured from the recording
    (out / "utt2dur").unlink()
    assert abs(durations(out)["en0-003"] - secs["en0-003"]) < 1e-3 and durations(out)["sx-b"] == 0.5


def test_label_weight_marks_the_label_tags(task_dir, tiny_dirs):
    pre = OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"], label_weight=4.0)
    tok = pre.tokenizer
    for info, tags in [
        ({"task": "SER", "emotion": "happy"}, "<happy>"),
        ({"task": "AGE_GENDER", "age": "adult", "gender": "female"}, "<adult><female>"),
        ({"task": "ASR"}, ""),
        ({"task": "STTC", "answer": "four"}, "<开始回答>four"),
    ]:
        out = pre("u1", {"text": "turn on the light", "task": json.dumps(info)})
        ids, weight = out["text"].tolist(), out["text_weight"]
        assert len(weight) == len(ids) and weight[-1] == 1.0  # the end token
        n_tags = len(tok.encode(tags, add_special_tokens=False)) if tags else 0
        assert (weight == 4.0).sum() == n_tags
        if n_tags:
            assert tok.decode(ids[-1 - n_tags : -1]) == tags
    assert "text_weight" not in OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"])(
        "u1", {"text": "hi", "task": json.dumps({"task": "SER", "emotion": "sad"})}
    )
    # through ESPnet's collate (pads with 0) into the model's weighted loss
    write_task_info(task_dir)
    _, batch = load_batch(task_dir, pre)
    assert batch["text_weight"].shape == batch["text"].shape
    assert ((batch["text_weight"] > 0) == (batch["text"] >= 0)).all()
    model = make_model(tiny_dirs, trainable=("adapter",))
    assert torch.isfinite(model(**batch)[0])
    with pytest.raises(ValueError, match="label_weight"):
        OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"], label_weight=0)


def test_task_weight_scales_a_tasks_targets(tiny_dirs):
    def weights(pre, info, text="turn on the light"):
        return pre("u1", {"text": text, "task": json.dumps(info)})["text_weight"]

    ser, asr = {"task": "SER", "emotion": "happy"}, {"task": "ASR"}
    srwt = {"task": "SRWT", "alignment": [[0.1, 0.4, "turn"], [0.5, 0.8, "on"]]}
    labels = OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"], label_weight=4.0)
    both = OSUMPreprocessor(
        train=False, tokenizer=tiny_dirs["llm"], label_weight=4.0, task_weight={"SRWT": 2.5}
    )
    assert (weights(both, ser) == weights(labels, ser)).all()
    assert (weights(both, asr) == 1.0).all()
    assert (weights(both, srwt, "turn on") == 2.5).all()  # the end token too
    alone = OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"], task_weight={"SER": 3.0})
    w = weights(alone, ser)
    assert (w == 3.0).all() and len(w) == len(
        alone("u1", {"text": "turn on the light", "task": json.dumps(ser)})["text"]
    )
    assert "text_weight" not in OSUMPreprocessor(
        train=False, tokenizer=tiny_dirs["llm"], task_weight={"SER": 1.0}
    )("u1", {"text": "hi", "task": json.dumps(ser)})
    with pytest.raises(ValueError, match="unknown tasks.*NOPE"):
        OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"], task_weight={"NOPE": 2})
    with pytest.raises(ValueError, match="task_weight must be > 0"):
        OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"], task_weight={"SRWT": 0})
