"""Scoring a decode dir per task, RESULTS.md per recipe, and the cross-corpus table."""

import json
import subprocess
import sys

import pytest

from osum.data.kaldi import DataError
from osum.scoring.results import collect, gather, write_results
from osum.scoring.score import score


def write_results_jsonl(path, rows):
    path.mkdir(parents=True, exist_ok=True)
    with open(path / "results.jsonl", "w", encoding="utf-8") as f:
        for utt, task, transcript, labels, alignment, answer, flags in rows:
            f.write(
                json.dumps(
                    dict(
                        utt=utt,
                        task=task,
                        raw="",
                        transcript=transcript,
                        labels=labels,
                        alignment=alignment,
                        answer=answer,
                        flags=flags,
                        score=0.0,
                    ),
                    ensure_ascii=False,
                )
                + "\n"
            )


@pytest.fixture
def decoded(task_dir, tmp_path):
    d = tmp_path / "exp" / "decode_test"
    write_results_jsonl(
        d,
        [
            ("en0-000", "ASR", "turn on the light", {}, [], None, []),
            (
                "en0-001",
                "SRWT",
                "open a door",
                {},
                [[0.12, 0.30, "open"], [0.30, 0.50, "a"], [0.52, 0.72, "door"]],
                None,
                [],
            ),
            ("en0-002", "VED", "one two three", {"event": "cough"}, [], None, []),
            ("en0-003", "SER", "call my mother", {"emotion": "happy"}, [], None, []),
            ("en1-000", "SSR", "turn on the light", {"style": None}, [], None, ["missing_tag"]),
            ("en1-001", "SGC", "open the door", {"gender": "male"}, [], None, []),
            ("en1-002", "SAP", "one two", {"age": "adult"}, [], None, []),
            ("en1-003", "STTC", "call my mother", {}, [], "you should call her", []),
            (
                "zh0-004",
                "TRANSCRIBE_AGE_GENDER",
                "打开灯",
                {"age": "old", "gender": "male"},
                [],
                None,
                [],
            ),
            # zh0-005 (AGE_GENDER) was never decoded
            (
                "zh1-004",
                "TRANSCRIBE_STYLE_AGE_GENDER",
                "打开",
                {"style": "fairy tale", "age": "adult", "gender": "male"},
                [],
                None,
                [],
            ),
            (
                "zh1-005",
                "SRWT",
                "今天天气很好",
                {},
                [[0.05, 0.25, "今"], [0.25, 0.45, "天"]],
                None,
                [],
            ),
        ],
    )
    (tmp_path / "exp" / "config.yaml").write_text(
        "encoder_conf: {init: /models/whisper-medium}\nllm_conf: {path: /models/Qwen2-7B}\n"
    )
    return d


def test_scores_by_hand(task_dir, decoded):
    s = score(decoded, task_dir)["tasks"]
    assert s["ASR"]["error_rate"] == 0.0 and s["ASR"]["unit"] == "word"
    srwt = s["SRWT"]  # "open a door" vs "open the door" (1/3) and zh1-005 exact (6 chars)
    assert srwt["errors"] == 1 and srwt["ref_units"] == 9
    # matched: open (|0.12-0.10| + 0) / 2 = 10 ms; door ref 0.52-0.82, hyp 0.52-0.72: 50 ms;
    # 今 and 天 (ref 今天 0.05-0.45 split in two halves) exact: 0 ms -> (10 + 50) / 4
    assert srwt["aas_matched_units"] == 4 and srwt["aas_ms"] == pytest.approx(15.0)
    assert s["VED"]["event"]["accuracy"] == 0.0 and s["SER"]["emotion"]["accuracy"] == 100.0
    assert s["SSR"]["style"]["accuracy"] == 0.0 and s["SSR"]["unparsed"] == 1
    assert s["SAP"]["error_rate"] == pytest.approx(100 / 3, abs=0.01)
    assert s["STTC"]["answer_accuracy"] == 100.0 and s["STTC"]["answer_chrf"] == pytest.approx(100)
    tag = s["TRANSCRIBE_AGE_GENDER"]
    assert tag["age"]["accuracy"] == 100.0 and tag["gender"]["accuracy"] == 0.0
    assert s["AGE_GENDER"]["missing"] == 1 and s["AGE_GENDER"]["age"]["accuracy"] == 0.0
    assert "error_rate" not in s["AGE_GENDER"]  # no transcript in that task
    assert s["TRANSCRIBE_STYLE_AGE_GENDER"]["unit"] == "char"
    assert s["TRANSCRIBE_STYLE_AGE_GENDER"]["error_rate"] == pytest.approx(100 / 3, abs=0.01)
    out = decoded / "scores"
    assert (out / "SER.emotion.confusion.png").stat().st_size > 1000
    assert "cough" in (out / "VED.event.confusion.txt").read_text()
    assert "S:the>a" in (out / "SRWT.align.txt").read_text()
    if "sclite_error_rate" in srwt:
        assert srwt["sclite_error_rate"] == srwt["error_rate"]


def test_results_md_and_gather(task_dir, decoded, tmp_path):
    score(decoded, task_dir)
    entries = collect([tmp_path / "exp"])
    md = write_results(entries, tmp_path / "RESULTS.md", "mini", "./run.sh --stage 4")
    text = md.read_text()
    assert "## SER / test" in text and "whisper-medium + Qwen2-7B" in text
    assert "| emotion acc % |" in text.replace(
        "emotion acc % | emotion macro-F1 %", "emotion acc % |"
    )
    assert "./run.sh --stage 4" in text
    all_md = gather([tmp_path / "RESULTS.json"], tmp_path / "ALL.md").read_text()
    assert "| test | SER |" in all_md


def test_osum_score_command(task_dir, decoded):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "osum.bin.osum_score",
            "--decode_dir",
            str(decoded),
            "--data_dir",
            str(task_dir),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["tasks"]["ASR"]["error_rate"] == 0.0
    assert "corpus" not in json.loads(res.stdout)  # the data dir does not say
    (task_dir / "corpus").write_text("LibriSpeech test-clean\n")
    assert score(str(decoded), str(task_dir))["corpus"] == "LibriSpeech test-clean"


def test_a_metric_that_could_not_be_computed_shows_a_dash():
    from osum.scoring.results import columns

    cols = columns({"error_rate": 50.0, "aas_ms": None, "utterances": 3})
    assert cols == {"WER/CER %": 50.0, "AAS ms": "-", "utts": 3}


def test_clips_without_speech_have_labels_but_no_error_rate(tmp_path):
    """ESC-50 / VocalSound clips: empty reference transcripts; the error rate covers only
    the clips with speech, and a task with none has no error rate (sclite included)."""
    data = tmp_path / "data"
    data.mkdir()
    rows = {
        "s1-a": ("VED", "", "cough"),
        "s1-b": ("VED", "", "laugh"),
        "s2-c": ("SER", "hi there", "sad"),
        "s2-d": ("SER", "", "sad"),
    }
    (data / "utt2spk").write_text("".join(f"{u} {u[:2]}\n" for u in rows))
    (data / "text").write_text("".join(f"{u} {t}".rstrip() + "\n" for u, (_, t, _) in rows.items()))
    (data / "utt2task").write_text("".join(f"{u} {k}\n" for u, (k, _, _) in rows.items()))
    (data / "utt2event").write_text("s1-a cough\ns1-b laugh\n")
    (data / "utt2emotion").write_text("s2-c sad\ns2-d sad\n")
    d = tmp_path / "decode"
    write_results_jsonl(
        d,
        [
            ("s1-a", "VED", "", {"event": "cough"}, [], None, []),
            ("s1-b", "VED", "uh", {"event": "cough"}, [], None, []),
            ("s2-c", "SER", "hi here", {"emotion": "sad"}, [], None, []),
            ("s2-d", "SER", "", {"emotion": "sad"}, [], None, []),
        ],
    )
    s = score(d, data)["tasks"]
    assert s["VED"]["event"]["accuracy"] == 50.0 and "error_rate" not in s["VED"]
    assert s["SER"]["error_rate"] == 50.0 and s["SER"]["ref_units"] == 2
    assert s["SER"]["without_transcript"] == 1 and s["SER"]["emotion"]["accuracy"] == 100.0


def test_the_judge_reads_the_question_and_the_audio_it_is_about(tmp_path):
    """openai_judge against a real local HTTP endpoint: a spoken question is the question;
    a text question about a clip (AIR-Bench) comes after the clip's transcript; a reply
    that is not a rating is counted as failed and left out of the mean."""
    import http.server
    import threading

    from osum.scoring.score import openai_judge

    prompts = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert self.path == "/v1/chat/completions" and body["model"] == "judge-m"
            prompts.append(body["messages"][0]["content"])
            reply = "7" if len(prompts) == 1 else "I cannot rate this."
            data = json.dumps({"choices": [{"message": {"content": reply}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    data = tmp_path / "data"
    data.mkdir()
    files = {
        "utt2spk": "a-1 a\nb-2 b\n",
        "utt2task": "a-1 STTC\nb-2 STTC\n",
        "text": "a-1 what is two plus three\nb-2 did you watch the game\n",
        "utt2answer": "a-1 Five.\nb-2 A football match.\n",
        "utt2question": "b-2 What did they watch?\n",
    }
    for name, text in files.items():
        (data / name).write_text(text)
    dec = tmp_path / "decode"
    write_results_jsonl(
        dec,
        [
            ("a-1", "STTC", "what is two plus three", {}, [], "Five.", []),
            ("b-2", "STTC", "did you watch the game", {}, [], "The game.", []),
        ],
    )
    try:
        judge = openai_judge(f"http://127.0.0.1:{server.server_port}/v1", "judge-m")
        res = score(dec, data, judge=judge)["tasks"]["STTC"]
    finally:
        server.shutdown()
    assert (
        "\nQuestion: what is two plus three\nReference answer: Five.\nReply: Five." in (prompts[0])
    )
    assert "The audio says" not in prompts[0]
    assert prompts[1].endswith(
        "\nThe audio says: did you watch the game\nQuestion: What did they watch?\n"
        "Reference answer: A football match.\nReply: The game."
    )
    assert (res["judge_score"], res["judge_rated"], res["judge_failed"]) == (7.0, 1, 1)


def asr_data_dir(path, utts, tasks=None):
    """A data dir of ``utts`` ({utt: transcript}); utt2task when ``tasks`` is given."""
    path.mkdir()
    (path / "utt2spk").write_text("".join(f"{u} {u[:2]}\n" for u in utts))
    (path / "text").write_text("".join(f"{u} {t}\n" for u, t in utts.items()))
    if tasks:
        (path / "utt2task").write_text("".join(f"{u} {tasks[u]}\n" for u in utts))
    return path


def test_utterances_missing_from_the_decode_are_named_and_count_as_errors(tmp_path):
    """Most of the data dir undecoded: a warning names how many and a few (it used to say
    nothing), and each counts as an empty hypothesis in the figures."""
    utts = {f"s1-{i:03d}": "turn on the light" for i in range(8)}
    data = asr_data_dir(tmp_path / "data", utts)
    dec = tmp_path / "decode"
    write_results_jsonl(
        dec,
        [
            ("s1-000", "ASR", "turn on the light", {}, [], None, []),
            ("s9-000", "ASR", "from another set", {}, [], None, []),
        ],
    )
    res = subprocess.run(
        [sys.executable, "-m", "osum.bin.osum_score", "--decode_dir", str(dec)]
        + ["--data_dir", str(data)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert (
        f"{dec}: 7 of the 8 utterances of {data} were not decoded (s1-001, s1-002, s1-003, "
        "s1-004, s1-005 and 2 more); each is scored as an empty hypothesis" in res.stderr
    )
    assert f"{dec}: 1 decoded utterances are not in {data} (s9-000); they are left out" in (
        res.stderr
    )
    asr = json.loads(res.stdout)["tasks"]["ASR"]
    assert (asr["utterances"], asr["missing"], asr["dele"]) == (8, 7, 28)
    assert asr["error_rate"] == 87.5 and asr["ref_units"] == 32


def test_a_decode_of_another_task_or_set_is_an_error(tmp_path):
    utts = {"s1-a": "hello there", "s1-b": "good morning"}
    data = asr_data_dir(tmp_path / "data", utts, tasks={"s1-a": "SER", "s1-b": "ASR"})
    (data / "utt2emotion").write_text("s1-a happy\n")
    dec = tmp_path / "decode"  # decoded with --task ASR
    write_results_jsonl(dec, [(u, "ASR", t, {}, [], None, []) for u, t in utts.items()])
    with pytest.raises(DataError) as e:
        score(dec, data)
    assert str(e.value).startswith(
        f"{dec}: 1 utterances were decoded as another task than {data} gives them (s1-a "
        f"decoded as ASR, SER in {data / 'utt2task'}): score the decode against the data dir"
    )
    (data / "utt2task").unlink()  # the data dir lost its task files: all ASR
    write_results_jsonl(dec, [("s1-a", "SER", "hello there", {"emotion": "happy"}, [], None, [])])
    with pytest.raises(
        DataError, match=f"s1-a decoded as SER, ASR in {data}, which has no utt2task"
    ):
        score(dec, data)
    write_results_jsonl(dec, [("s9-a", "ASR", "hello there", {}, [], None, [])])
    with pytest.raises(DataError, match=f"none of the 2 utterances of {data} is in {dec} "):
        score(dec, data)
