"""Speech2Text and osum_inference: fields out of waveforms, long audio in chunks, resume."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from helpers import run_train
from osum.asrx.text_norm import normalize
from osum.decode.data_dir import RESULTS, decode_data
from osum.decode.speech2text import Speech2Text
from osum.dev.tiny_setup import tiny_config, train_command, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exp(tiny_dirs, speech_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("inference_exp")
    config = write_config(root / "train.yaml", tiny_config(tiny_dirs, max_epoch=1))
    run_train(train_command(config, speech_data, root / "exp"), cwd=root)
    return root / "exp"


@pytest.fixture(scope="module")
def s2t(exp):
    return Speech2Text(exp / "config.yaml", exp / "1epoch.pth", max_new_tokens=12, batch_size=4)


def waves(speech_data):
    out = {}
    for line in open(speech_data / "wav.scp"):
        uid, path = line.split()
        out[uid] = soundfile.read(path, dtype="float32")[0]
    return out


def test_single_and_list_calls(s2t, speech_data):
    w = waves(speech_data)
    one = s2t(w["en0-000"], task="SER")
    many = s2t([w["en0-000"], w["zh0-005"]], task=["SER", "SRWT"])
    assert one.task == "SER" and "emotion" in one.parsed.labels
    assert many[0].text == one.text and many[1].task == "SRWT"
    # batch size does not change answers
    s2t.batch_size = 1
    assert s2t([w["en0-000"], w["zh0-005"]], task=["SER", "SRWT"])[1].text == many[1].text
    s2t.batch_size = 4
    # 8 kHz input is resampled, not misread
    resampled = s2t(w["en0-000"][::2], task="ASR", sample_rate=8000)
    assert isinstance(resampled.text, str)
    with pytest.raises(ValueError, match="unknown task"):
        s2t(w["en0-000"], task="NOPE")
    with pytest.raises(ValueError, match="too short"):
        s2t(np.zeros(100, dtype=np.float32))
    pcm = (w["en0-000"] * 32768).astype(np.int16)  # integer PCM is scaled, not misread
    assert torch.allclose(s2t.prepare(pcm, 16000, 0), torch.from_numpy(w["en0-000"]), atol=1e-4)


def test_long_audio_is_decoded_in_chunks_and_joined(s2t, speech_data):
    w = waves(speech_data)
    long = np.concatenate([w["en0-000"], w["en0-001"], w["zh0-004"][:5000]])
    s2t.chunk_samples = len(w["en0-000"])  # chunks = the pieces above
    try:
        pieces = s2t.chunks(torch.from_numpy(long))
        assert [len(p) for p in pieces] == [
            len(w["en0-000"]),
            len(w["en0-000"]),
            len(long) - 2 * len(w["en0-000"]),
        ]
        offsets = [0, len(pieces[0]) / 16000, 2 * len(pieces[0]) / 16000]
        for task in ("ASR", "SRWT", "SER"):
            joined = s2t(long, task=task)
            alone = [s2t(p.numpy(), task=task) for p in pieces]
            assert joined.chunks == [a.text for a in alone]
            assert joined.parsed.transcript == normalize(
                " ".join(a.parsed.transcript for a in alone)
            )
            shifted = [
                (s + o, e + o, x) for o, a in zip(offsets, alone) for s, e, x in a.parsed.alignment
            ]
            assert [x for *_, x in joined.parsed.alignment] == [x for *_, x in shifted]
            assert [t for s, e, _ in joined.parsed.alignment for t in (s, e)] == pytest.approx(
                [t for s, e, _ in shifted for t in (s, e)]
            )
    finally:
        s2t.chunk_samples = 30 * 16000


def test_osum_inference_writes_kaldi_files_and_resumes(exp, speech_data, tmp_path):
    out = tmp_path / "decode"
    keys = tmp_path / "keys"
    keys.write_text("".join(line.split()[0] + "\n" for line in open(speech_data / "wav.scp"))[:40])
    first_keys = [k for k in keys.read_text().split()]
    cmd = [
        sys.executable,
        "-m",
        "osum.bin.osum_inference",
        "--train_config",
        str(exp / "config.yaml"),
        "--model_file",
        str(exp / "1epoch.pth"),
        "--data_path_and_name_and_type",
        f"{speech_data}/wav.scp,speech,sound",
        "--output_dir",
        str(out),
        "--batch_size",
        "4",
        "--max_new_tokens",
        "8",
    ]
    res = subprocess.run(
        cmd + ["--key_file", str(keys), "--task", "SER"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(x) for x in (out / RESULTS).read_text().splitlines()]
    assert [r["utt"] for r in rows] == first_keys
    # a run killed mid-write leaves a broken last line: it is ignored and redone
    with open(out / RESULTS, "a") as f:
        f.write('{"utt": "en1-000", "task": "SE')
    res = subprocess.run(cmd + ["--task", "SER"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"{len(first_keys)} of 12 utterances already decoded" in res.stderr
    rows = [
        json.loads(x)
        for x in (out / RESULTS).read_text().splitlines()[: -0 or None]
        if x.endswith("}")
    ]
    assert sorted(r["utt"] for r in rows) == sorted(
        k.split()[0] for k in open(speech_data / "wav.scp")
    )
    res = subprocess.run(cmd + ["--task", "ASR"], capture_output=True, text=True)
    assert res.returncode != 0 and "was decoded with other options (task differ" in res.stderr
    text = (out / "text").read_text().splitlines()
    assert len(text) == 12 and len((out / "utt2emotion").read_text().splitlines()) == 12
    assert all(len(line.split()) >= 2 for line in (out / "flags").read_text().splitlines())


def test_decode_data_reads_tasks_from_utt2taskinfo(s2t, task_dir, tmp_path):
    from osum.data.task_files import write_task_info

    write_task_info(task_dir)
    out = decode_data(
        s2t,
        [(f"{task_dir}/wav.scp", "speech", "sound"), (f"{task_dir}/utt2taskinfo", "task", "text")],
        tmp_path / "d",
    )
    tasks = dict(line.split() for line in (out / "task").read_text().splitlines())
    assert tasks["en0-001"] == "SRWT" and tasks["zh0-005"] == "AGE_GENDER"
    assert "en1-003" in (out / "utt2answer").read_text()


def test_join_rules(s2t):
    from osum.decode.search import Hypothesis

    def hyp(text):
        return Hypothesis(s2t.tokenizer.encode(text, add_special_tokens=False), -1.0, -1.0, True)

    srwt = s2t.join("SRWT", [(0.0, hyp("<0.10>hi<0.20>")), (1.5, hyp("<0.05>there<0.30>"))])
    assert srwt.parsed.transcript == "hi there"
    assert [w for *_, w in srwt.parsed.alignment] == ["hi", "there"]
    assert [t for s, e, _ in srwt.parsed.alignment for t in (s, e)] == pytest.approx(
        [0.1, 0.2, 1.55, 1.8]
    )
    ser = s2t.join("SER", [(0, hyp("a<sad>")), (30, hyp("b<happy>")), (60, hyp("c<happy>"))])
    assert ser.parsed.labels["emotion"] == "happy" and ser.parsed.transcript == "a b c"
    tie = s2t.join("SER", [(0, hyp("a<sad>")), (30, hyp("b<happy>"))])
    assert tie.parsed.labels["emotion"] == "sad"
    unread = s2t.join("SER", [(0, hyp("a")), (30, hyp("b<happy>")), (60, hyp("c"))])
    assert unread.parsed.labels["emotion"] == "happy"  # chunks without a label do not vote
    chat = s2t.join("STTC", [(0, hyp("一加")), (30, hyp("一<开始回答>二"))])
    assert chat.parsed.transcript == "一加一" and chat.parsed.answer == "二"
    assert chat.parsed.flags == []  # only the last chunk must carry the answer marker
    no_answer = s2t.join("STTC", [(0, hyp("一加")), (30, hyp("一"))])
    assert no_answer.parsed.flags == ["missing_answer"]


def test_joint_ctc_decoding_needs_a_model_with_a_ctc_head(exp):
    with pytest.raises(ValueError, match="no CTC head"):
        Speech2Text(exp / "config.yaml", exp / "1epoch.pth", ctc_weight=0.3)


def test_a_question_follows_the_prompt(s2t, task_dir, tmp_path):
    """utt2question (AIR-Bench's chat items): the question goes after the task's prompt,
    in training (the preprocessor) and in decoding (Speech2Text, decode_data)."""
    from osum.data.task_files import load_task_info, write_task_info

    question = "what does the speaker want?"
    prompt = f"{s2t.pre.prompt_for('STTC')} {question}"
    assert s2t.pre.prompt_for("STTC", question) == prompt
    keys = tmp_path / "keys"
    keys.write_text("en1-003 x\n")
    data = [
        (f"{task_dir}/wav.scp", "speech", "sound"),
        (f"{task_dir}/utt2taskinfo", "task", "text"),
    ]

    def raw(out):  # the hypothesis and its log-probability, which the prompt changes
        row = json.loads((out / RESULTS).read_text().splitlines()[0])
        return row["raw"], row["score"]

    write_task_info(task_dir)
    plain = raw(decode_data(s2t, data, tmp_path / "plain", key_file=str(keys)))
    fixed, s2t.pre.prompt = s2t.pre.prompt, prompt  # the question as part of the prompt
    try:
        given = raw(decode_data(s2t, data, tmp_path / "given", key_file=str(keys)))
    finally:
        s2t.pre.prompt = fixed
    (task_dir / "utt2question").write_text(f"en1-003 {question}\n")
    write_task_info(task_dir)
    assert load_task_info(task_dir)["en1-003"]["question"] == question
    asked = raw(decode_data(s2t, data, tmp_path / "asked", key_file=str(keys)))
    assert asked == given and given != plain
    with pytest.raises(ValueError, match="2 waveforms but 1 questions"):
        s2t.decode_batch([torch.zeros(4000)] * 2, ["STTC"] * 2, [question])


def test_decoding_jobs_take_the_visible_gpus_in_turn():
    from osum.bin.osum_inference import decode_device

    assert decode_device(0, 3, visible=8) == "cpu"
    assert [decode_device(1, j, visible=2) for j in (1, 2, 3, 4)] == [
        "cuda:0", "cuda:1", "cuda:0", "cuda:1",
    ]  # fmt: skip
    assert decode_device(1, 5, visible=1) == "cuda:0"  # a scheduler's one GPU a job
    assert decode_device(1, None, visible=4) == "cuda"
    with pytest.raises(SystemExit, match="no CUDA device is visible"):
        decode_device(1, 1, visible=0)


def test_loading_a_model_prints_nothing(tiny_dirs, tmp_path):
    """No library noise on load: no weight-loading progress bars, no deprecation warnings
    (shown here: -W always), nothing on stdout from ESPnet's imports."""
    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_dirs))
    code = f"from osum.decode.speech2text import Speech2Text; Speech2Text({str(config)!r}, max_new_tokens=2)"
    res = subprocess.run(
        [sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout == "" and res.stderr == ""


def test_an_inference_config_file_sets_the_search(exp, speech_data, tmp_path):
    """--config (the recipes' --inference_config): the TEMPLATE's decode_osum.yaml, OSUM's
    own decoding (beam search with sampling, seeded), gives what the same options given
    one by one give, at any batch size; the command line wins over the file."""
    import yaml

    from helpers import REPO

    template = REPO / "egs" / "TEMPLATE" / "osum1" / "conf" / "decode_osum.yaml"
    conf = yaml.safe_load(template.read_text())
    assert conf == dict(
        beam_size=4,
        do_sample=True,
        top_k=5,
        top_p=0.9,
        temperature=1.0,
        repetition_penalty=1.05,
        length_penalty=1.0,
        max_new_tokens=400,
        seed=0,
    )
    common = [
        "--train_config",
        str(exp / "config.yaml"),
        "--model_file",
        str(exp / "1epoch.pth"),
        "--data_path_and_name_and_type",
        f"{speech_data}/wav.scp,speech,sound",
        "--task",
        "SER",
    ]

    def decode(name, *args):
        from osum.bin.osum_inference import main

        main(common + ["--output_dir", str(tmp_path / name), *args])
        return (tmp_path / name / "text").read_text()

    by_file = decode("file", "--config", str(template), "--max_new_tokens", "10")
    options = ["--beam_size", "4", "--do_sample", "--top_k", "5", "--top_p", "0.9"]
    options += ["--repetition_penalty", "1.05", "--seed", "0", "--max_new_tokens", "10"]
    assert decode("options", *options, "--batch_size", "3") == by_file
    assert decode("other_seed", *options[:-4], "--seed", "7", "--max_new_tokens", "10") != by_file
    beam = ["--beam_size", "4", "--repetition_penalty", "1.05", "--max_new_tokens", "10"]
    off = ["--config", str(template), "--do_sample", "false", "--max_new_tokens", "10"]
    assert decode("sampling_off", *off) == decode("beam_search", *beam)
    bad = tmp_path / "bad.yaml"
    bad.write_text("beam_size: 4\nbeams: 4\n")
    with pytest.raises(SystemExit):
        decode("bad", "--config", str(bad))
