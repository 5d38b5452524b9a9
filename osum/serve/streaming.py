"""Streaming a chat completion as server-sent events, fed by the engine's thread.

The engine calls ``on_text`` from its decoding thread with the hypothesis so far; the
text crosses to the event loop through :func:`threadsafe_put` and leaves as
``chat.completion.chunk`` deltas: the role first, then the content as it grows (only what
:func:`osum.serve.chat.partial_content` says will stay), the rest of the answer once
decoded, a last chunk with ``finish_reason`` and the ``osum`` fields, then ``[DONE]``.
The deltas add up to the content of the same request unstreamed.
"""

import asyncio
import json
import logging
from typing import AsyncIterator, Awaitable, Callable

from osum.asrx.registry import Task
from osum.decode.speech2text import Result
from osum.serve import chat
from osum.serve.errors import APIError

logger = logging.getLogger(__name__)

DONE = "data: [DONE]\n\n"


def threadsafe_put(queue: asyncio.Queue) -> Callable[[object], None]:
    """A function another thread calls to put into ``queue`` on the running event loop; it
    never raises there (a closed loop: the server is going)."""
    loop = asyncio.get_running_loop()

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:
            pass

    return put


def sse(obj: dict) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


async def chat_events(
    completion: chat.Completion,
    task: Task,
    texts: asyncio.Queue,
    result: Callable[[], Awaitable[Result]],
    finish: Callable[[Result], dict],
) -> AsyncIterator[str]:
    """The events of one streamed answer.

    ``texts``: hypotheses so far, then None once decoded; ``result()``: the decoded
    result; ``finish(result)``: what the last chunk carries besides the end (usage, the
    ``osum`` fields). An error after the stream began is an ``{"error": ...}`` event."""
    yield sse(completion.chunk({"role": "assistant", "content": ""}))
    sent = ""
    while (text := await texts.get()) is not None:
        piece = chat.partial_content(task, text)
        if len(piece) > len(sent) and piece.startswith(sent):
            yield sse(completion.chunk({"content": piece[len(sent) :]}))
            sent = piece
    try:
        res = await result()
    except APIError as e:
        yield sse(e.body())
        yield DONE
        return
    except Exception as e:  # noqa: BLE001 - the headers are sent: the client hears of it here
        logger.exception("decoding a streamed request failed")
        yield sse(APIError(500, f"internal error: {type(e).__name__}").body())
        yield DONE
        return
    final = chat.result_content(task, res)
    if final.startswith(sent):
        if final[len(sent) :]:
            yield sse(completion.chunk({"content": final[len(sent) :]}))
    else:  # a bug of partial_content: what the client read differs from the answer
        logger.error(f"streamed {sent!r} is not a prefix of the answer {final!r}")
    yield sse(completion.chunk({}, "stop", **finish(res)))
    yield DONE
