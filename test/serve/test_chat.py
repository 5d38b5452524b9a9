"""Reading chat requests (audio part, task, question) and streaming their content
(osum.serve.chat)."""

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from osum.asrx.registry import ANSWER_MARKER, build_registry
from osum.serve import chat
from osum.serve.errors import APIError

REGISTRY = build_registry()
BY_TEXT = chat.task_by_text(REGISTRY)
AUDIO = {"type": "input_audio", "input_audio": {"data": base64.b64encode(b"RIFF").decode()}}


def ask(*parts, **extra) -> chat.ChatRequest:
    body = {"model": "osum", "messages": [{"role": "user", "content": list(parts)}], **extra}
    return chat.parse_request(body, REGISTRY, BY_TEXT)


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def test_every_prompt_and_tag_names_its_task():
    for name, task in REGISTRY.items():
        assert BY_TEXT[task.tag] == name
        for prompts in task.prompts.values():
            for p in prompts:
                assert ask(text(f"  {p}\n"), AUDIO).task == name
                assert ask(text(p), AUDIO).question is None


def test_a_free_question_is_a_chat():
    r = ask(AUDIO, text("What is the answer? "))
    assert (r.task, r.question, r.audio, r.stream) == (
        "STTC",
        "What is the answer?",
        b"RIFF",
        False,
    )
    assert (ask(AUDIO).task, ask(AUDIO).question) == ("STTC", None)
    assert ask(text("ignored: not a chat task"), AUDIO, task="SER").question is None
    assert ask(text("why?"), AUDIO, task="STTC", stream=True).stream
    # earlier turns and other roles are not read
    body = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [AUDIO]},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [text("Transcribe the speech."), AUDIO]},
        ]
    }
    assert chat.parse_request(body, REGISTRY, BY_TEXT).task == "ASR"


def test_audio_urls():
    data = "data:audio/wav;base64," + base64.b64encode(b"abc").decode()
    assert ask({"type": "audio_url", "audio_url": {"url": data}}).audio == b"abc"
    r = ask({"type": "audio_url", "audio_url": {"url": "https://example.com/a.wav"}})
    assert (r.audio, r.url) == (None, "https://example.com/a.wav")


@pytest.mark.parametrize(
    "parts, extra, says",
    [
        ([text("no audio")], {}, "exactly one audio part"),
        ([AUDIO, AUDIO], {}, "exactly one audio part"),
        ([AUDIO], {"task": "DANCE"}, "known: ASR, SRWT"),
        ([AUDIO], {"stream": "yes"}, "stream"),
        ([{"type": "image_url", "image_url": {}}], {}, "image_url"),
        ([{"type": "input_audio", "input_audio": {"data": "%%%"}}], {}, "base64"),
        ([{"type": "audio_url", "audio_url": {"url": "data:audio/wav,abc"}}], {}, "base64"),
        ([{"type": "audio_url", "audio_url": {"url": "file:///etc/passwd"}}], {}, "local"),
        ([{"type": "audio_url", "audio_url": {"url": "/etc/passwd"}}], {}, "local"),
    ],
)
def test_what_is_refused(parts, extra, says):
    with pytest.raises(APIError) as e:
        ask(*parts, **extra)
    assert e.value.status == 400 and says in e.value.message
    assert set(e.value.body()["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("body", [[], {}, {"messages": []}, {"messages": [{"role": "system"}]}])
def test_a_body_without_a_user_message(body):
    with pytest.raises(APIError, match="JSON object|messages"):
        chat.parse_request(body, REGISTRY, BY_TEXT)


PIECES = [
    "a",
    "B",
    " ",
    "中",
    "<",
    ">",
    "开始",
    "回答",
    ANSWER_MARKER,
    "\ufffd",
    "\u200b",
    "İ",
    ".",
]


@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_streamed_content_only_grows_into_the_answer(pieces):
    """What is streamed of a hypothesis being written is a prefix of its final content."""
    hyp = "".join(pieces)
    for name in ("ASR", "STTC"):
        task = REGISTRY[name]
        final = chat.content(task, hyp)
        for end in range(len(hyp) + 1):
            assert final.startswith(chat.partial_content(task, hyp[:end])), (name, hyp[:end])


def test_the_answer_of_a_chat():
    task = REGISTRY["STTC"]
    assert chat.partial_content(task, "Hello<开始回") == ""
    assert chat.partial_content(task, "Hello<开始回答>Fine \ufffd") == "fine"
    assert chat.content(task, "Hello<开始回答>Fine, thanks") == "fine, thanks"
    assert chat.content(REGISTRY["SER"], " Hi<happy>") == " Hi<happy>"  # the raw hypothesis


def test_a_question_longer_than_the_limit_is_refused():
    """One long question would pad every row of the running batch to its length."""
    body = {"messages": [{"role": "user", "content": [text("x" * 11), AUDIO]}]}
    with pytest.raises(APIError) as e:
        chat.parse_request(body, REGISTRY, BY_TEXT, max_question_chars=10)
    assert e.value.status == 400 and e.value.code == "question_too_long"
    assert "11 characters, over this server's limit of 10 (--max_question_chars)" in str(e.value)
    body = {"messages": [{"role": "user", "content": [text(" x" * 5 + "  "), AUDIO]}]}
    assert chat.parse_request(body, REGISTRY, BY_TEXT, max_question_chars=9).question
    # the text parts are joined, then measured
    parts = [text("abcdef"), text("abcdef"), AUDIO]
    with pytest.raises(APIError, match="13 characters"):
        chat.parse_request(
            {"messages": [{"role": "user", "content": parts}]}, REGISTRY, BY_TEXT, 12
        )


@pytest.mark.parametrize("task", [["ASR"], {"name": "ASR"}, 3, True])
def test_a_task_that_is_not_a_name_is_refused(task):
    with pytest.raises(APIError) as e:
        ask(AUDIO, task=task)
    assert e.value.status == 400 and e.value.code == "invalid_task"
    assert "known: ASR, SRWT" in e.value.message


@pytest.mark.parametrize(
    "raw, says",
    [
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than 32 levels"),  # RecursionError
        (b"[" * 33 + b"]" * 33, "nests deeper than 32 levels"),
        (b'{"a": ' * 40 + b"1" + b"}" * 40, "nests deeper than 32 levels"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe{", "not valid JSON"),
    ],
)
def test_a_body_that_is_not_json_or_nests_too_deep(raw, says):
    with pytest.raises(APIError) as e:
        chat.load_body(raw)
    assert e.value.status == 400 and says in e.value.message


def test_a_body_as_deep_as_allowed():
    assert chat.load_body(b"[" * 32 + b"]" * 32) is not None
    body = {"messages": [{"role": "user", "content": [AUDIO]}], "model": "osum"}
    assert chat.load_body(json.dumps(body).encode()) == body
