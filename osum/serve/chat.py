"""Chat completions with audio: what a request asks (its audio, its text, the task) and
the ``chat.completion`` objects that answer it.

The audio is the one audio part of the last user message: ``input_audio`` (OpenAI's:
base64 ``data`` and a ``format``) or ``audio_url`` (vLLM's: a ``data:`` URL, or an http(s)
URL the server may be allowed to fetch). The task is the request's ``task`` field; else
the message text, when it is one of a task's prompts (any language) or tags; else STTC,
the text being the question put after its prompt. Earlier turns and system messages are
not used: the model answers one utterance. ``max_tokens``, ``temperature`` and the other
sampling fields are accepted and not used: the server's decoding options hold for all.

A body is refused (400, OpenAI's error) when it is not JSON, nests deeper than
``MAX_DEPTH``, names a task or model with what is not a string, or has a text longer
than the server's ``max_question_chars``: one long question would pad every row of the
running batch to its length.
"""

import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass
from typing import Dict, Mapping

from osum.asrx.registry import ANSWER_MARKER, Task
from osum.decode.speech2text import Result
from osum.serve.errors import APIError

CHAT_TASK = "STTC"  # the task of a free question
MAX_DEPTH = 32  # levels a JSON body may nest (a chat request takes 6)
_HELD_BACK = re.compile(r"[\s\ufffd]+$")  # trailing spaces, part of a UTF-8 character


@dataclass
class ChatRequest:
    audio: bytes | None  # decoded base64 (None: ``url`` to fetch)
    url: str | None  # an http(s) URL of the audio
    what: str  # the audio, as messages name it
    task: str
    question: str | None
    stream: bool


def task_by_text(registry: Mapping[str, Task]) -> Dict[str, str]:
    """Prompt text or tag (stripped) -> task name, over every prompt language."""
    table = {}
    for name, task in registry.items():
        table.setdefault(task.tag.strip(), name)
        for prompts in task.prompts.values():
            for p in prompts:
                table.setdefault(p.strip(), name)
    return table


def load_body(raw: bytes) -> object:
    """The JSON of a request body; 400 for what is not JSON or nests deeper than
    ``MAX_DEPTH`` (nothing reading it recurses past that)."""
    try:
        body = json.loads(raw)
    except RecursionError:
        raise APIError(
            400, f"the body nests deeper than {MAX_DEPTH} levels", code="invalid_json"
        ) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise APIError(400, f"the body is not valid JSON ({e})", code="invalid_json") from None
    level, depth = [body], 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise APIError(
                400, f"the body nests deeper than {MAX_DEPTH} levels", code="invalid_json"
            )
        level = [
            child
            for node in level
            if isinstance(node, (dict, list))
            for child in (node.values() if isinstance(node, dict) else node)
        ]
    return body


def parse_request(
    body,
    registry: Mapping[str, Task],
    by_text: Mapping[str, str],
    max_question_chars: int | None = None,
) -> ChatRequest:
    """The audio, task and question of a chat request's JSON body; 400 for what is not one,
    or a text longer than ``max_question_chars`` (None: any)."""
    if not isinstance(body, dict):
        raise APIError(400, "the body must be a JSON object", code="invalid_body")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "messages: a non-empty list is required", "messages", "invalid_value")
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    if not users:
        raise APIError(400, "messages: no user message", "messages", "invalid_value")
    content = users[-1].get("content")
    parts = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not isinstance(parts, list):
        raise APIError(400, "messages: content must be a string or a list of parts", "messages")
    texts, audios = [], []
    for part in parts:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind in ("input_audio", "audio_url"):
            audios.append(part)
        else:
            raise APIError(
                400, f"messages: a content part of type {shown(kind)} is not read", "messages"
            )
    if len(audios) != 1:
        raise APIError(
            400,
            f"the last user message must hold exactly one audio part (input_audio or "
            f"audio_url), it holds {len(audios)}",
            "messages",
            "invalid_audio",
        )
    audio, url, what = audio_part(audios[0])
    text = " ".join(t.strip() for t in texts if t.strip())
    if max_question_chars is not None and len(text) > max_question_chars:
        raise APIError(
            400,
            f"messages: the text is {len(text)} characters, over this server's limit of "
            f"{max_question_chars} (--max_question_chars)",
            "messages",
            "question_too_long",
        )
    task, question = pick_task(body.get("task"), text, registry, by_text)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise APIError(400, "stream must be true or false", "stream", "invalid_value")
    return ChatRequest(audio, url, what, task, question, stream)


def pick_task(
    task: object, text: str, registry: Mapping[str, Task], by_text: Mapping[str, str]
) -> tuple:
    """(task name, question): the ``task`` field, a prompt or tag, else a chat question.
    Only a chat task takes a question; a prompt or tag is never one."""
    if task is None:
        task = by_text.get(text, CHAT_TASK)
    elif not isinstance(task, str) or task not in registry:
        raise APIError(
            400,
            f"unknown task {shown(task)}; known: {', '.join(registry)}",
            "task",
            "invalid_task",
        )
    chat = registry[task].chat and text and text not in by_text
    return task, text if chat else None


def shown(value: object) -> str:
    """A request's value in a message: a string quoted (cut at 100 characters), else the
    JSON type (a list or object is not repeated back)."""
    if isinstance(value, str):
        return repr(value if len(value) <= 100 else value[:100] + "...")
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return "an object" if isinstance(value, dict) else "a list"


def audio_part(part: dict) -> tuple:
    """(bytes or None, http(s) URL or None, name) of an ``input_audio`` or ``audio_url`` part."""
    if part["type"] == "input_audio":
        inner = part.get("input_audio")
        data = inner.get("data") if isinstance(inner, dict) else None
        if not isinstance(data, str):
            raise APIError(400, "input_audio.data: base64 audio is required", "messages")
        fmt = inner.get("format")
        fmt = fmt[:20] if isinstance(fmt, str) and fmt else "audio"
        return b64(data, "input_audio.data"), None, f"input_audio ({fmt})"
    inner = part.get("audio_url")
    url = inner.get("url") if isinstance(inner, dict) else inner
    if not isinstance(url, str) or not url:
        raise APIError(400, "audio_url.url: a URL is required", "messages")
    if url.startswith("data:"):
        head, comma, data = url.partition(",")
        if not comma or not head.endswith(";base64"):
            raise APIError(
                400, "audio_url: a data: URL must be base64 (data:audio/wav;base64,...)", "messages"
            )
        return b64(data, "audio_url"), None, "audio_url (data:)"
    if url.startswith(("http://", "https://")):
        return None, url, f"audio_url {url if len(url) <= 200 else url[:200] + '...'}"
    raise APIError(
        400,
        "audio_url: only data: and http(s) URLs are read, never local files",
        "messages",
        "invalid_url",
    )


def b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)  # lines wrapped or not
    except (binascii.Error, ValueError):
        raise APIError(400, f"{what}: not valid base64", "messages", "invalid_base64") from None


def content(task: Task, text: str) -> str:
    """What the assistant says for a hypothesis: STTC's answer (after the marker), the raw
    hypothesis of the other tasks."""
    if not task.chat:
        return text
    return task.parse(text).answer or ""


def result_content(task: Task, result: Result) -> str:
    """:func:`content` of a decoded result (a chunked STTC answer is its last chunk's)."""
    return (result.parsed.answer or "") if task.chat else result.text


def partial_content(task: Task, text: str) -> str:
    """:func:`content` of a hypothesis still being written, without what may yet change:
    trailing spaces and a character whose bytes are not all written (U+FFFD); nothing of
    an STTC answer before its marker."""
    if task.chat and ANSWER_MARKER not in text:
        return ""
    return _HELD_BACK.sub("", content(task, _HELD_BACK.sub("", text)))


def extension(result: Result, duration: float) -> dict:
    """The ``osum`` field of a completion: the task's fields, read by the demo page."""
    return result.record(duration)


class Completion:
    """The ids and stamps one answer shares across its (streamed) objects."""

    def __init__(self, model: str):
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.model = model

    def _head(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model}

    def whole(self, text: str, usage: dict, osum: dict) -> dict:
        """The ``chat.completion`` object."""
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": text},
            "logprobs": None,
            "finish_reason": "stop",
        }
        return {**self._head("chat.completion"), "choices": [choice], "usage": usage, "osum": osum}

    def chunk(self, delta: dict, finish: str | None = None, **extra) -> dict:
        """One ``chat.completion.chunk`` of a stream."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**self._head("chat.completion.chunk"), "choices": [choice], **extra}
