"""Decoding requests from many callers together: the server's engine.

    engine = Engine(Speech2Text("exported/osum"), max_rows=32, max_queue=256).start()
    future = engine.submit(wave, "SER")          # any thread; a concurrent.futures.Future
    result = future.result()                     # the Result Speech2Text gives alone

One thread decodes. Requests wait in a bounded queue (:class:`QueueFull` past
``max_queue``). With ``batching`` the decoding thread keeps one batch of rows (a
request's chunks, each with its beams) running step by step: a request that arrives
while the batch decodes joins it at the next decoding step, and a finished one leaves at
once, its answer returned without waiting for the others. Without ``batching`` requests
are decoded one at a time, as ``Speech2Text`` would decode each alone.

Every answer equals what ``Speech2Text`` gives for that audio and task alone, token for
token: rows are left-padded, positions follow the attention mask, and each search keeps
its own state (:mod:`osum.decode.search`).
"""

import concurrent.futures
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, List

import torch

from osum.decode.ctc_prefix import CTCPrefix
from osum.decode.running import RunningBatch
from osum.decode.search import BeamSearch, Decoder, GreedySearch, decoder_inputs
from osum.decode.speech2text import Result, Speech2Text
from osum.decode.timestamps import Timestamps

logger = logging.getLogger(__name__)


class QueueFull(Exception):
    """The engine's queue holds ``max_queue`` requests already."""


class EngineClosed(Exception):
    """The engine was closed before the request was decoded."""


@dataclass
class Request:
    wave: torch.Tensor  # mono float32 16 kHz (Speech2Text.prepare)
    task: str
    question: str | None = None
    # called from the decoding thread with the text of the request so far, after each step
    # that adds to it (single-chunk greedy requests; others once, at the end)
    on_text: Callable[[str], None] | None = None
    future: concurrent.futures.Future = field(default_factory=concurrent.futures.Future)
    arrived: float = field(default_factory=time.monotonic)
    jobs: list = field(default_factory=list)  # its chunks (Speech2Text.jobs), once admitted
    hyps: list = field(default_factory=list)  # each chunk's best hypothesis, once decoded


class Engine:
    """Decodes the requests of many threads with one :class:`Speech2Text` (module doc).

    Args:
        s2t: the model, its prompts and decoding options.
        max_rows: rows decoded together at most (a request takes one row a chunk, times
            the beam size); a request that needs more than this is decoded alone.
        max_queue: requests waiting at most; :meth:`submit` raises :class:`QueueFull` past it.
        batching: False: one request at a time.
    """

    def __init__(
        self, s2t: Speech2Text, max_rows: int = 32, max_queue: int = 256, batching: bool = True
    ):
        if max_rows < 1 or max_queue < 1:
            raise ValueError(f"max_rows and max_queue must be >= 1, got {max_rows}, {max_queue}")
        self.s2t = s2t
        self.max_rows, self.max_queue, self.batching = max_rows, max_queue, batching
        self._queue: queue.Queue[Request | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.running = 0  # requests being decoded
        # called with the number of rows of each decoding step (metrics)
        self.on_step: Callable[[int], None] | None = None

    # -- the callers' side -------------------------------------------------------------
    def start(self) -> "Engine":
        self._thread = threading.Thread(target=self._loop, name="osum-engine", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float | None = 10.0):
        """Stops the decoding thread; requests still queued fail with EngineClosed."""
        self._closed.set()
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if req is not None and not req.future.done():
                req.future.set_exception(EngineClosed("the engine was closed"))

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(
        self,
        wave: torch.Tensor,
        task: str,
        question: str | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> concurrent.futures.Future:
        """Queue one request (``wave``: from ``Speech2Text.prepare``); its future gives the
        :class:`Result`. Raises ValueError for an unknown task, :class:`QueueFull`."""
        if task not in self.s2t.registry:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(self.s2t.registry)}")
        if self._closed.is_set():
            raise EngineClosed("the engine is closed")
        if self._queue.qsize() >= self.max_queue:
            raise QueueFull(f"{self.max_queue} requests are waiting already")
        req = Request(wave, task, question, on_text)
        self._queue.put(req)
        return req.future

    # -- the decoding thread -----------------------------------------------------------
    def _loop(self):
        dec = self.s2t
        self._decoder = Decoder(dec.model.llm, dec.pre.end_id)
        self._batch = RunningBatch()
        self._searches: List[_Search] = []
        self._waiting: Request | None = None  # taken from the queue, not admitted yet
        while not self._closed.is_set():
            try:
                with torch.no_grad():
                    self._admit()
                    if self._batch.rows:
                        self._step()
            except Exception as e:  # noqa: BLE001 - the callers of the requests get it
                logger.exception("decoding failed")
                self._fail_all(e)
        self._fail_all(EngineClosed("the engine was closed"))

    def _rows_of(self, req: Request) -> int:
        """The rows a request takes once decoding (its chunks, times the beams)."""
        return len(self.s2t.chunks(req.wave)) * self.s2t.options.beam_size

    def _next(self, block: bool) -> Request | None:
        if self._waiting is not None:
            req, self._waiting = self._waiting, None
            return req
        try:
            req = self._queue.get(block=block)
        except queue.Empty:
            return None
        if req is None:
            self._closed.set()
        return req

    def _admit(self):
        """Takes the queued requests that fit (:attr:`max_rows`) into the running batch:
        all of them at once, prefilled together. Waits for one when nothing runs."""
        busy = sum(s.rows_needed for s in self._searches)
        taken: List[Request] = []
        while self.batching or (busy == 0 and not taken):
            req = self._next(block=busy == 0 and not taken)
            if req is None:
                break
            need = self._rows_of(req)
            if busy + need > self.max_rows and (busy or taken):
                self._waiting = req  # next time
                break
            taken.append(req)
            busy += need
        if not taken:
            return
        jobs = []
        for req in taken:
            req.jobs = self.s2t.jobs([req.wave], [req.task], [req.question])
            req.hyps = [None] * len(req.jobs)
            for job in req.jobs:
                job.request = req
            jobs += req.jobs
            self.running += 1
        self._prefill(jobs)

    def _prefill(self, jobs):
        s2t, opts = self.s2t, self.s2t.options
        inputs = s2t.batch_inputs(jobs)
        times = inputs.pop("times")
        times = times if opts.monotonic_times else None
        embeds, mask, ctc = decoder_inputs(s2t.model, **inputs, options=opts)
        logits, mask, next_pos, cache = self._decoder._prefill(embeds, mask)
        if opts.beam_size == 1 and ctc is None:  # greedy rows leave as they end: one search
            self._searches.append(_Search(self._decoder, opts, jobs, None, times))
        else:  # a search a chunk, so that none waits for the others' end
            for i, job in enumerate(jobs):
                self._searches.append(
                    _Search(self._decoder, opts, [job], _row_of(ctc, i), _row_of(times, i))
                )
        self._batch.add(logits, mask, next_pos, cache)

    def _step(self):
        logits, offset = self._batch.logits, 0
        srcs, tokens, going = [], [], []
        for search in self._searches:
            n = search.rows
            src, tok = search.search.step(logits[offset : offset + n])
            for row in search.search.ended:
                self._chunk_done(search.jobs[row], search.search.nbest(row)[0])
            if not search.search.finished:
                srcs.append(src + offset)
                tokens.append(tok)
                search.rows = len(src)
                going.append(search)
                search.report_text(self.s2t.tokenizer)
            offset += n
        self._searches = going
        if self.on_step is not None:
            self.on_step(offset)
        if not going:
            self._batch.select(logits.new_zeros(0, dtype=torch.long))
            return
        self._batch.select(torch.cat(srcs))
        self._batch.step(self._decoder, torch.cat(tokens))

    def _chunk_done(self, job, hyp):
        req = job.request
        req.hyps[job.chunk] = hyp
        if any(h is None for h in req.hyps):
            return
        self.running -= 1
        try:
            result = self.s2t.join(req.task, [(j.offset, h) for j, h in zip(req.jobs, req.hyps)])
            if req.on_text is not None:
                req.on_text(result.text)
        except Exception as e:  # noqa: BLE001
            req.future.set_exception(e)
            return
        req.future.set_result(result)

    def _fail_all(self, error: Exception):
        reqs = [job.request for search in self._searches for job in search.jobs]
        for req in reqs + ([self._waiting] if self._waiting is not None else []):
            if not req.future.done():
                req.future.set_exception(error)
        self._waiting = None
        self._searches, self._batch, self.running = [], RunningBatch(), 0


def _row_of(x, i: int):
    """Row ``i`` of a batch's CTC posteriors or time limits (None stays None)."""
    if x is None:
        return None
    if isinstance(x, Timestamps):
        return Timestamps(x.pieces, [x.limits[i]])
    frames = int(x.lengths[i])
    closes = x.closes if x.closes.dim() == 1 else x.closes[i : i + 1]
    return CTCPrefix(x.logp[i : i + 1, :frames], x.lengths[i : i + 1], x.rows[i : i + 1], closes)


class _Search:
    """A search over some of the running rows, and the chunks it decodes."""

    def __init__(self, decoder, opts, jobs, ctc, times):
        kind = GreedySearch if opts.beam_size == 1 else BeamSearch
        device = decoder.head.weight.device
        self.search = kind(decoder, opts, len(jobs), device, ctc, times)
        self.jobs, self.rows = jobs, len(jobs)
        self.beams = opts.beam_size
        # streamed: the greedy rows of single-chunk requests that asked for their text
        self.streamed = kind is GreedySearch and any(
            j.request.on_text is not None and len(j.request.jobs) == 1 for j in jobs
        )

    @property
    def rows_needed(self) -> int:
        """The rows it may take at the next step (a beam search's grow to its beams)."""
        return self.rows if self.beams == 1 else len(self.jobs) * self.beams

    def report_text(self, tokenizer):
        """Each streamed request's text so far, to its ``on_text``."""
        if not self.streamed:
            return
        search = self.search
        for r, row in enumerate(search.ids):
            req = self.jobs[row].request
            if req.on_text is None or len(req.jobs) != 1 or bool(search.done[r]):
                continue
            req.on_text(tokenizer.decode(search.seqs[r].tolist(), skip_special_tokens=True))


__all__ = ["Engine", "EngineClosed", "QueueFull", "Request", "Result"]
