"""Decoding requests from many callers together: the server's engine.

    engine = Engine(Speech2Text("exported/osum"), max_rows=32, max_queue=256).start()
    future = engine.submit(wave, "SER")          # any thread; a concurrent.futures.Future
    result = future.result()                     # the Result Speech2Text gives alone

One thread decodes. Requests wait in a bounded queue (:class:`QueueFull` past
``max_queue``). With ``batching`` the decoding thread keeps one batch of rows (a
request's chunks, each with its beams) running step by step: a request that arrives
while the batch decodes joins it at the next decoding step, and a finished one leaves at
once, its answer returned without waiting for the others. At most ``max_rows`` rows
decode together: the chunks of a long request that do not fit join as others leave.
Without ``batching`` requests are decoded one at a time, as ``Speech2Text`` would decode
each alone.

A request whose future is cancelled (its client went away) leaves the batch at the next
step; one whose decoding fails (its audio, a callback of its own) fails alone.

Every answer equals what ``Speech2Text`` gives for that audio and task alone, token for
token: rows are left-padded, positions follow the attention mask, and each search keeps
its own state (:mod:`osum.decode.search`).
"""

import concurrent.futures
import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, List

import torch

from osum.decode.ctc_prefix import CTCPrefix
from osum.decode.running import RunningBatch
from osum.decode.search import BeamSearch, Decoder, GreedySearch, decoder_inputs
from osum.decode.speech2text import MIN_SAMPLES, Result, Speech2Text
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
    jobs: list = field(default_factory=list)  # its chunks (Speech2Text.jobs), once taken
    hyps: list = field(default_factory=list)  # each chunk's best hypothesis, once decoded
    started: bool = False  # a chunk of it is decoding

    @property
    def gone(self) -> bool:
        """Answered, failed or cancelled: nothing more to decode for it."""
        return self.future.done()

    def finish(self, result: Result | None = None, error: BaseException | None = None):
        """Sets the future's outcome, unless it is settled already (cancelled)."""
        try:
            if error is not None:
                self.future.set_exception(error)
            else:
                self.future.set_result(result)
        except concurrent.futures.InvalidStateError:
            pass


class Engine:
    """Decodes the requests of many threads with one :class:`Speech2Text` (module doc).

    Args:
        s2t: the model, its prompts and decoding options.
        max_rows: rows decoded together at most (a request takes one row a chunk, times
            the beam size); a request's chunks beyond it wait for rows to leave.
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
        self._lock = threading.Lock()  # submit's checks and put against close
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._running, self._stopped = threading.Event(), threading.Event()  # the loop's
        self._pending: Deque = deque()  # chunks of requests taken from the queue, waiting
        self._searches: List[_Search] = []
        # called with the number of rows of each decoding step (metrics)
        self.on_step: Callable[[int], None] | None = None

    # -- the callers' side -------------------------------------------------------------
    def start(self) -> "Engine":
        """Decodes in a thread of its own (see :meth:`run` for the calling thread)."""
        self._thread = threading.Thread(target=self.run, name="osum-engine", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float | None = 10.0):
        """Stops the decoding loop (waiting up to ``timeout`` s for the step under way);
        requests not answered yet (queued or decoding) fail with :class:`EngineClosed`."""
        with self._lock:
            self._closed.set()
            self._queue.put(None)  # wakes a loop waiting for a request
        if self._running.is_set():
            self._stopped.wait(timeout)
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if req is not None:
                req.finish(error=EngineClosed("the engine was closed"))

    @property
    def running(self) -> int:
        """Requests being decoded."""
        return len(
            {id(j.request) for s in list(self._searches) for j in s.jobs if not j.request.gone}
        )

    @property
    def queued(self) -> int:
        """Requests waiting: in the queue, or taken from it with no chunk decoding yet."""
        waiting = {id(j.request) for j in list(self._pending) if not j.request.started}
        return self._queue.qsize() + len(waiting)

    def submit(
        self,
        wave: torch.Tensor,
        task: str,
        question: str | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> concurrent.futures.Future:
        """Queue one request (``wave``: from ``Speech2Text.prepare``); its future gives the
        :class:`Result` (cancel it to stop decoding). Raises ValueError for an unknown task,
        :class:`QueueFull`, :class:`EngineClosed`."""
        if task not in self.s2t.registry:
            raise ValueError(f"unknown task {task!r}; known: {', '.join(self.s2t.registry)}")
        if (
            not (isinstance(wave, torch.Tensor) and wave.dim() == 1 and wave.is_floating_point())
            or len(wave) < MIN_SAMPLES
        ):
            raise ValueError(
                f"a request's audio is a 1-D float tensor of {MIN_SAMPLES} samples or more "
                "(Speech2Text.prepare)"
            )
        req = Request(wave, task, question, on_text)
        with self._lock:
            if self._closed.is_set():
                raise EngineClosed("the engine is closed")
            if self._queue.qsize() >= self.max_queue:
                raise QueueFull(f"{self.max_queue} requests are waiting already")
            self._queue.put(req)
        return req.future

    # -- the decoding thread -----------------------------------------------------------
    def run(self):
        """Decodes in the calling thread until :meth:`close`. On CPU the process's main
        thread decodes faster than another one (PyTorch's OpenMP threads; about twice as
        fast on 2 cores here): a server runs its HTTP side in a thread and this in its main
        thread (:func:`osum.serve.runner.serve`)."""
        self._running.set()
        try:
            self._decode_until_closed()
        finally:
            self._stopped.set()

    def _decode_until_closed(self):
        dec = self.s2t
        self._decoder = Decoder(dec.model.llm, dec.pre.end_id)
        self._batch = RunningBatch()
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

    def _busy(self) -> int:
        return sum(s.rows_needed for s in self._searches)

    def _take(self, block: bool) -> bool:
        """Moves the next live request of the queue to the pending chunks; False if none."""
        while True:
            try:
                req = self._queue.get(block=block)
            except queue.Empty:
                return False
            if req is None:
                self._closed.set()
                return False
            if req.gone:  # cancelled while queued
                continue
            try:
                req.jobs = self.s2t.jobs([req.wave], [req.task], [req.question])
            except Exception as e:  # noqa: BLE001 - this request's own (its audio)
                req.finish(error=e)
                continue
            req.hyps = [None] * len(req.jobs)
            for job in req.jobs:
                job.request = req
            self._pending.extend(req.jobs)
            return True

    def _admit(self):
        """Moves the pending chunks that fit (:attr:`max_rows`) into the running batch, all
        prefilled together, taking requests from the queue (waiting for one when nothing
        runs). Without batching, a request's chunks only."""
        beams = self.s2t.options.beam_size
        busy, taken = self._busy(), []
        while True:
            while self._pending and self._pending[0].request.gone:
                self._pending.popleft()
            if not self._pending:
                idle = busy == 0 and not taken
                if not (self.batching or idle) or not self._take(block=idle):
                    break
                continue
            if busy + beams > self.max_rows and (busy or taken):
                break
            taken.append(self._pending.popleft())
            busy += beams
        if not taken:
            return
        for bucket in _by_length(taken):
            self._start(bucket)

    def _start(self, jobs):
        """Prefills chunks of similar lengths into the batch; where that fails, each
        request's alone, so that only those that fail alone fail."""
        try:
            self._prefill(jobs)
            return
        except Exception as e:  # noqa: BLE001 - the batch goes on without them
            error = e
        requests = list({id(j.request): j.request for j in jobs}.values())
        if len(requests) == 1:
            logger.error(f"starting to decode a request failed: {error!r}")
            self._drop(requests[0], error)
            return
        for req in requests:
            try:
                self._prefill([j for j in jobs if j.request is req])
            except Exception as e:  # noqa: BLE001
                logger.exception("starting to decode a request failed")
                self._drop(req, e)

    def _prefill(self, jobs):
        s2t, opts = self.s2t, self.s2t.options
        inputs = s2t.batch_inputs(jobs)
        times = inputs.pop("times")
        times = times if opts.monotonic_times else None
        embeds, mask, ctc = decoder_inputs(s2t.model, **inputs, options=opts)
        logits, mask, next_pos, cache = self._decoder._prefill(embeds, mask)
        if opts.beam_size == 1 and ctc is None:  # greedy rows leave as they end: one search
            searches = [_Search(self._decoder, opts, jobs, None, times)]
        else:  # a search a chunk, so that none waits for the others' end
            searches = [
                _Search(self._decoder, opts, [job], _row_of(ctc, i), _row_of(times, i))
                for i, job in enumerate(jobs)
            ]
        self._batch.add(logits, mask, next_pos, cache)
        self._searches += searches
        for job in jobs:
            job.request.started = True

    def _step(self):
        logits, offset = self._batch.logits, 0
        srcs, tokens, going = [], [], []
        for search in self._searches:
            n = search.rows
            if search.abandoned():  # its requests' clients went away, or they failed
                offset += n
                continue
            src, tok = search.search.step(logits[offset : offset + n])
            for row in search.search.ended:
                self._chunk_done(search.jobs[row], search.search.nbest(row)[0])
            if not search.search.finished:
                srcs.append(src + offset)
                tokens.append(tok)
                search.rows = len(src)
                going.append(search)
                search.report_text(self.s2t.tokenizer, self._drop)
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
        if req.gone:
            return
        req.hyps[job.chunk] = hyp
        if any(h is None for h in req.hyps):
            return
        try:
            result = self.s2t.join(req.task, [(j.offset, h) for j, h in zip(req.jobs, req.hyps)])
            if req.on_text is not None:
                req.on_text(result.text)
        except Exception as e:  # noqa: BLE001 - this request's own
            req.finish(error=e)
            return
        req.finish(result)

    def _drop(self, req: Request, error: BaseException):
        """Fails one request; its rows leave the batch at the next step."""
        req.finish(error=error)

    def _fail_all(self, error: BaseException):
        reqs = [job.request for search in self._searches for job in search.jobs]
        reqs += [job.request for job in self._pending]
        for req in reqs:
            req.finish(error=error)
        self._searches, self._batch = [], RunningBatch()
        self._pending.clear()


def _by_length(jobs) -> List[list]:
    """Chunks in groups of similar lengths (the longest at most twice the shortest), so
    that the encoder does not pad a 2 s chunk to the 30 s of another."""
    groups: List[list] = []
    for job in sorted(jobs, key=lambda j: -len(j.samples)):
        if groups and len(job.samples) * 2 >= len(groups[-1][0].samples):
            groups[-1].append(job)
        else:
            groups.append([job])
    return groups


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

    def abandoned(self) -> bool:
        """Whether no request of its rows is waiting for them. A greedy search's rows of
        gone requests end now (their tokens are not taken)."""
        gone = {i for i, job in enumerate(self.jobs) if job.request.gone}
        if len(gone) == len(self.jobs):
            return True
        if gone and isinstance(self.search, GreedySearch):
            self.search.abandon(gone)
        return False

    def report_text(self, tokenizer, fail):
        """Each streamed request's text so far, to its ``on_text`` (one that raises fails
        its own request: ``fail(request, error)``)."""
        if not self.streamed:
            return
        search = self.search
        for r, row in enumerate(search.ids):
            req = self.jobs[row].request
            if req.on_text is None or len(req.jobs) != 1 or req.gone or bool(search.done[r]):
                continue
            try:
                req.on_text(tokenizer.decode(search.seqs[r].tolist(), skip_special_tokens=True))
            except Exception as e:  # noqa: BLE001 - the caller's callback
                fail(req, e)


__all__ = ["Engine", "EngineClosed", "QueueFull", "Request", "Result"]
