"""Batched decoding over spliced speech + prompt embeddings, with a KV cache.

Rows are left-padded and the attention mask and mask-derived position ids keep each row
exactly what it would be alone, so a batch gives the answers of one-at-a-time decoding.

* greedy (``beam_size=1``) and sampling (``do_sample``, with ``temperature``, ``top_k``,
  ``top_p`` and a ``seed``), the logits warped by HF's own ``TemperatureLogitsWarper``,
  ``TopKLogitsWarper`` and ``TopPLogitsWarper``;
* beam search: every hypothesis is scored by the sum of its token log-probabilities
  (end token included) divided by ``length ** length_penalty``, ``length`` counting the
  end token (HF's convention); a row stops when it has ``beam_size`` finished
  hypotheses and no live beam, normalised at the current length, scores better than
  the ``beam_size``-th of them (HF's ``early_stopping=False`` rule); the n-best list is
  sorted by that score, best first; without a repetition penalty (and, sampling,
  without a temperature, top-k or top-p) ``logprob`` is exactly the model's
  log-probability of the tokens;
* beam search with sampling (``do_sample`` with ``beam_size`` > 1, as HF's ``generate``
  does it with one end token, and OSUM decodes): the log-probabilities of each beam are
  warped as above, keeping at least two tokens a beam, and the ``2 * beam_size``
  candidates of a row are drawn without replacement from the softmax of their
  accumulated scores (in place of taking the best ones), then ranked by score as in
  beam search. Where fewer candidates than that are left (``top_k`` below the beam
  count), HF also draws some of probability zero and may keep them as dead beams or
  finished hypotheses of no score, which delays its stop; here they are left out (the
  same tokens as HF's whenever ``top_k`` is 0 or at least the beam count, as OSUM's 5
  with 4 beams). With ``top_k`` 1 or 2 every candidate is then drawn: the search is
  deterministic, whatever the seed;
* ``repetition_penalty`` as HF applies it (scores of tokens already generated are
  divided by it when positive, multiplied when negative: the logits in greedy search and
  sampling, the log-probabilities in beam search), ``max_new_tokens``.

* joint CTC/attention decoding (``ctc_weight`` > 0): :mod:`osum.decode.ctc_prefix`;
* monotonic timestamps (``monotonic_times``): :mod:`osum.decode.timestamps`.

Greedy and beam search give the same tokens at any batch size. Sampling draws each row
from a generator of its own, all seeded with ``seed`` (or one random seed), so a row's
tokens do not depend on the other rows of its batch: with a seed, a run repeats, and each
row is what HF's ``generate`` gives for it alone after ``torch.manual_seed(seed)``.
"""

import secrets
from dataclasses import dataclass
from typing import List, Tuple

import torch
from transformers import DynamicCache
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from osum.decode.ctc_prefix import CTCPrefix, JointCTC
from osum.decode.running import RunningBatch
from osum.decode.timestamps import TimeRule, Timestamps
from osum.model.llm import base_model, decoder_body
from osum.model.splice import position_ids


@dataclass
class DecodeOptions:
    beam_size: int = 1
    nbest: int = 1
    max_new_tokens: int = 200
    length_penalty: float = 1.0
    repetition_penalty: float = 1.0
    do_sample: bool = False
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int | None = None
    ctc_weight: float = 0.0
    ctc_candidates: int = 10
    monotonic_times: bool = True

    def __post_init__(self):
        """Refuses values that cannot work, naming the option."""
        for name in ("beam_size", "nbest", "max_new_tokens", "ctc_candidates"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.nbest > self.beam_size:
            raise ValueError(f"nbest must be <= beam_size, got {self.nbest} > {self.beam_size}")
        for name in ("repetition_penalty", "temperature"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0 (0: no top-k), got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0.0 <= self.ctc_weight < 1.0:
            raise ValueError(f"ctc_weight must be in [0, 1), got {self.ctc_weight}")
        if self.ctc_weight > 0 and self.do_sample:
            raise ValueError("joint CTC decoding (ctc_weight > 0) does not sample")


@dataclass
class Hypothesis:
    tokens: List[int]  # without the end token
    logprob: float  # sum of log-probabilities, end token included when reached
    score: float  # logprob / length ** length_penalty
    finished: bool


class Decoder:
    """Decodes spliced embeddings with the LLM of an OSUM model.

    Args:
        llm: the HF causal LM (peft-wrapped or not).
        end_id: the token that ends a target.
    """

    def __init__(self, llm, end_id: int):
        base = base_model(llm)
        self.config = base.config
        self.body = decoder_body(llm)
        self.head = base.get_output_embeddings()
        self.embed = base.get_input_embeddings()
        self.end_id = end_id

    def _logits(self, embeds, mask, pos, cache) -> torch.Tensor:
        out = self.body(
            inputs_embeds=embeds, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True
        )
        return self.head(out.last_hidden_state[:, -1]).float()  # (rows, vocab)

    def _penalise(self, logits, seqs: torch.Tensor, penalty: float):
        if penalty == 1.0 or seqs.shape[1] == 0:
            return logits
        seen = torch.gather(logits, 1, seqs)
        seen = torch.where(seen > 0, seen / penalty, seen * penalty)
        return logits.scatter(1, seqs, seen)

    @torch.no_grad()
    def __call__(
        self,
        embeds: torch.Tensor,
        mask: torch.Tensor,
        opts: DecodeOptions,
        ctc: CTCPrefix | None = None,
        times: Timestamps | None = None,
    ) -> List[List[Hypothesis]]:
        """embeds (batch, L, hidden) left-padded, mask (batch, L) -> n-best lists.

        Greedy or sampling for one beam, beam search otherwise; ``ctc`` is needed when
        ``opts.ctc_weight`` > 0; ``times`` gives the rows whose times are kept monotonic
        (``opts.monotonic_times``)."""
        search = self._greedy if opts.beam_size == 1 else self._beam
        times = times if opts.monotonic_times else None
        return search(*self._prefill(embeds, mask), opts, self._check_ctc(ctc, opts), times)

    @torch.no_grad()
    def beam_search(
        self, embeds, mask, opts: DecodeOptions, ctc=None, times=None
    ) -> List[List[Hypothesis]]:
        """Beam search whatever the beam size (with one beam it equals greedy)."""
        times = times if opts.monotonic_times else None
        return self._beam(*self._prefill(embeds, mask), opts, self._check_ctc(ctc, opts), times)

    @staticmethod
    def _check_ctc(ctc: CTCPrefix | None, opts: DecodeOptions) -> CTCPrefix | None:
        if opts.ctc_weight == 0:
            return None
        if ctc is None:
            raise ValueError("ctc_weight > 0 needs the CTC posteriors (a model with a CTC head)")
        return ctc

    def _prefill(self, embeds, mask):
        if mask[:, -1].min() == 0:
            raise ValueError("rows must be left-padded (the last position of every row valid)")
        cache = DynamicCache(config=self.config)
        pos = position_ids(mask)
        logits = self._logits(embeds, mask, pos, cache)
        return logits, mask, pos[:, -1:] + 1, cache

    def _step(self, tokens, mask, next_pos, cache):
        mask = torch.cat([mask, mask.new_ones(mask.shape[0], 1)], dim=1)
        emb = self.embed(tokens)[:, None]
        return self._logits(emb, mask, next_pos, cache), mask, next_pos + 1

    @staticmethod
    def _forbid(rule: TimeRule | None, *scores: torch.Tensor):
        if rule is None:
            return scores
        forbid = rule.forbidden(scores[0].shape[-1], scores[0].device)
        if forbid is None:
            return scores
        return tuple(x.masked_fill(forbid, float("-inf")) for x in scores)

    def _greedy(self, logits, mask, next_pos, cache, opts, ctc=None, times=None):
        search = GreedySearch(self, opts, logits.shape[0], logits.device, ctc, times)
        return self._run(search, logits, mask, next_pos, cache)

    def _beam(self, logits, mask, next_pos, cache, opts, ctc=None, times=None):
        """Beam search (module doc) from the prefill's ``logits``: each row's n-best list."""
        search = BeamSearch(self, opts, logits.shape[0], logits.device, ctc, times)
        return self._run(search, logits, mask, next_pos, cache)

    def _run(self, search, logits, mask, next_pos, cache) -> List[List[Hypothesis]]:
        """A search's steps to its end, over the rows it keeps (the engine's
        :class:`~osum.decode.running.RunningBatch`, with one search)."""
        rows = RunningBatch()
        rows.add(logits, mask, next_pos, cache)
        while True:
            src, tokens = search.step(rows.logits)
            if search.finished:
                return search.nbest()
            rows.select(src)
            rows.step(self, tokens)

    def _constraints(self, opts: DecodeOptions, ctc, times, beams: int):
        """The joint CTC scorer and the timestamp rule of a search with ``beams`` beams a
        row (each None when not asked for)."""
        joint = (
            None
            if ctc is None
            else JointCTC(ctc, self.end_id, opts.ctc_weight, opts.ctc_candidates, beams)
        )
        rule = None if times is None else TimeRule(times, beams)
        return joint, rule

    def _beam_logprobs(self, logits, seqs, opts, rule, joint, sampler) -> torch.Tensor:
        """Each beam's scores of its next token (beams, vocab): log-probabilities with the
        repetition penalty (on log-probabilities, as HF's beam search), the forbidden
        times masked, joint with CTC, warped when sampling."""
        logp = torch.log_softmax(logits, dim=-1)
        logp = self._penalise(logp, seqs, opts.repetition_penalty)
        (logp,) = self._forbid(rule, logp)
        if joint is not None:
            logp = joint.scores(logp)
        if sampler is not None:
            logp = sampler.warp(seqs, logp)
        return logp

    def _next_beams(self, top, seqs, finished, row_done, k, vocab, length, lp):
        """One step of beam search over the rows' candidates ``top`` (scores and indices,
        best first): appends the hypotheses that end to ``finished`` and marks the rows
        that are then done in ``row_done``.

        Returns the next beams' scores (batch, k), and the beam each continues and the
        token it adds (batch x k); a row that is done keeps its beams, of no score."""
        top_scores, top_idx = top
        batch, device = len(row_done), seqs.device
        new_scores = torch.full((batch, k), float("-inf"), device=device)
        new_src = torch.arange(batch * k, device=device).view(batch, k).clone()
        new_tok = torch.full((batch, k), self.end_id, dtype=torch.long, device=device)
        for b in range(batch):
            if row_done[b]:
                continue
            live, ended = self._extend_row(b, top_scores[b], top_idx[b], seqs, k, vocab, length, lp)
            for n, (score, src, tok) in enumerate(live):
                new_scores[b, n], new_src[b, n], new_tok[b, n] = score, src, tok
            finished[b] += ended
            row_done[b] = _row_is_settled(finished[b], new_scores[b], length, k, lp)
        return new_scores, new_src.view(-1), new_tok.view(-1)

    def _extend_row(self, b, scores, idx, seqs, k, vocab, length, lp):
        """One row's step: of its candidates (best first; ``idx`` into its beams x vocab),
        an end token within the top ``k`` finishes its beam's hypothesis, and the first
        ``k`` others are the row's next beams.

        Returns the next beams as (score, source beam, token) and the finished
        hypotheses."""
        live: List[Tuple[float, int, int]] = []
        ended: List[Hypothesis] = []
        for rank, (score, i) in enumerate(zip(scores, idx)):
            src, tok = b * k + i // vocab, i % vocab
            if score == float("-inf"):
                break
            if tok == self.end_id:
                if rank < k:  # an end token outside the top k is not taken
                    ended.append(Hypothesis(seqs[src].tolist(), score, score / length**lp, True))
            else:
                live.append((score, src, tok))
            if len(live) == k:
                break
        return live, ended


class GreedySearch:
    """Greedy search (or sampling) over ``rows`` rows, a step at a time.

    :meth:`step` takes the rows' next-token logits and gives the rows that go on (indices
    into this step's rows) and their tokens. A row that ends leaves the search at once
    (:attr:`ended` names it) unless joint CTC scores the rows, whose scorer keeps all of
    them to the end (an ended row then goes on with end tokens, as it does alone)."""

    def __init__(
        self, decoder: "Decoder", opts: DecodeOptions, rows: int, device, ctc=None, times=None
    ):
        self.dec, self.opts = decoder, opts
        self.joint, self.rule = decoder._constraints(opts, ctc, times, beams=1)
        self.sampler = _Sampler(opts, rows, device, min_keep=1) if opts.do_sample else None
        self.seqs = torch.zeros(rows, 0, dtype=torch.long, device=device)
        self.logprob = torch.zeros(rows, device=device)
        self.done = torch.zeros(rows, dtype=torch.bool, device=device)
        self.ids = list(range(rows))  # the row each live row is
        self.hyps: List[List[Hypothesis] | None] = [None] * rows
        self.ended: List[int] = []  # the rows whose hypothesis ended at the last step
        self.steps, self.finished = 0, False

    def step(self, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        opts, end_id, rows = self.opts, self.dec.end_id, logits.shape[0]
        logits = self.dec._penalise(logits, self.seqs, opts.repetition_penalty)
        logp = torch.log_softmax(logits, dim=-1)
        logits, logp = self.dec._forbid(self.rule, logits, logp)
        if self.sampler is not None:
            nxt = self.sampler.tokens(self.seqs, logits)
        elif self.joint is not None:
            logp = self.joint.scores(logp)
            nxt = logp.argmax(-1)
        else:
            nxt = logits.argmax(-1)
        nxt = torch.where(self.done, torch.full_like(nxt, end_id), nxt)
        self.logprob += torch.where(self.done, 0.0, logp.gather(1, nxt[:, None])[:, 0])
        self.seqs = torch.cat([self.seqs, nxt[:, None]], dim=1)
        was_done = self.done
        self.done = self.done | (nxt == end_id)
        self.steps += 1
        every = torch.arange(rows, device=logits.device)
        if bool(self.done.all()) or self.steps == opts.max_new_tokens:
            self.finished = True
            self.ended = [self.ids[r] for r in range(rows) if not bool(was_done[r])]
            for r in range(rows):
                self._keep(r)
            return every[:0], nxt[:0]
        if self.joint is not None:  # its scorer holds every row to the end
            self.joint.advance(every, nxt)
            if self.rule is not None:
                self.rule.advance(every.cpu(), nxt)
            self.ended = [self.ids[r] for r in range(rows) if bool(self.done[r] & ~was_done[r])]
            for r in range(rows):
                if bool(self.done[r] & ~was_done[r]):
                    self._keep(r)
            return every, nxt
        keep = (~self.done).nonzero()[:, 0]
        self.ended = [self.ids[r] for r in range(rows) if bool(self.done[r] & ~was_done[r])]
        for r in range(rows):
            if bool(self.done[r]):
                self._keep(r)
        if self.rule is not None:
            self.rule.advance(keep.cpu(), nxt[keep])
        if self.sampler is not None:
            self.sampler.gens = [self.sampler.gens[r] for r in keep.tolist()]
        self.seqs, self.logprob, self.done = self.seqs[keep], self.logprob[keep], self.done[keep]
        self.ids = [self.ids[r] for r in keep.tolist()]
        return keep, nxt[keep]

    def abandon(self, rows):
        """Rows (as numbered at the start) that no one waits for: they end now, their
        tokens not taken (they leave at the next step, or stay to the end with joint CTC)."""
        for r, row in enumerate(self.ids):
            if row in rows:
                self.done[r] = True

    def _keep(self, r: int):
        """Row ``r`` of this step as its row's final hypothesis (once)."""
        row = self.ids[r]
        if self.hyps[row] is not None:
            return
        toks = self.seqs[r].tolist()
        finished = self.dec.end_id in toks
        toks = toks[: toks.index(self.dec.end_id)] if finished else toks
        length = len(toks) + int(finished)
        lp = float(self.logprob[r])
        score = lp / max(length, 1) ** self.opts.length_penalty
        self.hyps[row] = [Hypothesis(toks, lp, score, finished)]

    def nbest(self, row: int | None = None):
        """Each row's n-best list (one hypothesis), or row ``row``'s once it ended."""
        return self.hyps if row is None else self.hyps[row]


class BeamSearch:
    """Beam search (module doc) over ``rows`` rows of ``beam_size`` beams, a step at a time.

    The first :meth:`step` takes the prefill's logits, one row each, and gives every row's
    ``beam_size`` beams (indices repeat); a row that is done (:attr:`ended`) keeps beams of
    no score to the end of the search."""

    def __init__(
        self, decoder: "Decoder", opts: DecodeOptions, rows: int, device, ctc=None, times=None
    ):
        self.dec, self.opts, self.batch = decoder, opts, rows
        k = opts.beam_size
        self.joint, self.rule = decoder._constraints(opts, ctc, times, beams=k)
        # HF keeps two tokens a beam at least, so that an end token leaves a continuation
        self.sampler = _Sampler(opts, rows, device, min_keep=2) if opts.do_sample else None
        self.beam_scores = torch.full((rows, k), float("-inf"), device=device)
        self.beam_scores[:, 0] = 0.0
        self.seqs = torch.zeros(rows * k, 0, dtype=torch.long, device=device)
        self.done_hyps: List[List[Hypothesis]] = [[] for _ in range(rows)]
        self.row_done = [False] * rows
        self.ended: List[int] = []
        self.t, self.finished = 0, False

    def step(self, logits: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        opts, k = self.opts, self.opts.beam_size
        first = self.t == 0
        if first:  # the prefill's row for each of its beams
            logits = logits.repeat_interleave(k, dim=0)
        vocab = logits.shape[-1]
        logp = self.dec._beam_logprobs(logits, self.seqs, opts, self.rule, self.joint, self.sampler)
        cand = (self.beam_scores.view(-1, 1) + logp).view(self.batch, k * vocab)
        top = _best_candidates(cand, 2 * k, self.sampler, self.row_done)
        was_done = list(self.row_done)
        new_scores, src, tokens = self.dec._next_beams(
            top, self.seqs, self.done_hyps, self.row_done, k, vocab, self.t + 1, opts.length_penalty
        )
        self.ended = [b for b in range(self.batch) if self.row_done[b] and not was_done[b]]
        self.t += 1
        if all(self.row_done):
            self.finished = True
            return src[:0], tokens[:0]
        if self.joint is not None:
            self.joint.advance(src, tokens)
        if self.rule is not None:
            self.rule.advance(src, tokens)
        self.seqs = torch.cat([self.seqs[src], tokens.view(-1, 1)], dim=1)
        self.beam_scores = new_scores
        if self.t == opts.max_new_tokens:
            self.finished = True
            self.ended = [b for b in range(self.batch) if not was_done[b]]
            return src[:0], tokens[:0]
        return (src // k if first else src), tokens

    def nbest(self, row: int | None = None):
        """Each row's n-best list, best first, or row ``row``'s once it ended."""
        rows = range(self.batch) if row is None else [row]
        k, lp = self.opts.beam_size, self.opts.length_penalty
        out = [
            _nbest(
                self.done_hyps[b],
                None if self.row_done[b] else self.beam_scores[b],
                self.seqs[b * k : (b + 1) * k],
                lp,
                self.opts.nbest,
            )
            for b in rows
        ]
        return out if row is None else out[0]


def _best_candidates(cand: torch.Tensor, n: int, sampler, row_done: List[bool]):
    """The ``n`` candidates of each row (batch, beams x vocab) as lists of scores and
    indices, best first: the top ones, or drawn when sampling."""
    if sampler is None:
        top_scores, top_idx = cand.topk(n, dim=1)
    else:
        top_scores, top_idx = sampler.candidates(cand, n, row_done)
    return top_scores.tolist(), top_idx.tolist()


def _row_is_settled(
    finished: List[Hypothesis], live_scores: torch.Tensor, length: int, k: int, lp: float
) -> bool:
    """HF's stopping rule (``early_stopping=False``): a row is done when it has ``k``
    finished hypotheses and its best live beam, normalised at today's length, scores no
    better than the ``k``-th of them."""
    if len(finished) < k:
        return False
    kth = sorted(h.score for h in finished)[-k]
    best_live = float(live_scores.max()) / length**lp
    return best_live <= kth


def _nbest(
    finished: List[Hypothesis],
    live_scores: torch.Tensor | None,
    live_seqs: torch.Tensor,
    lp: float,
    nbest: int,
) -> List[Hypothesis]:
    """A row's ``nbest`` best hypotheses: its finished ones, with its live beams
    (``live_scores`` and ``live_seqs``; None once the row is done) where
    ``max_new_tokens`` was reached first."""
    hyps = list(finished)
    if live_scores is not None:
        for j in range(live_scores.shape[0]):
            score = float(live_scores[j])
            if score > float("-inf"):
                toks = live_seqs[j].tolist()
                hyps.append(Hypothesis(toks, score, score / max(len(toks), 1) ** lp, False))
    hyps.sort(key=lambda h: -h.score)
    return hyps[:nbest]


@torch.no_grad()
def decode_speech(
    model,
    speech: torch.Tensor,
    speech_lengths: torch.Tensor,
    prompt: torch.Tensor,
    prompt_lengths: torch.Tensor,
    end_id: int,
    options: DecodeOptions | None = None,
    ctc_rows: torch.Tensor | None = None,
    ctc_closes: torch.Tensor | None = None,
    times: Timestamps | None = None,
) -> List[List[Hypothesis]]:
    """Decode a batch of speech with an :class:`~osum.model.espnet_model.OSUMModel`: n-best
    lists of token ids per utterance.

    speech (batch, samples) or (batch, frames, n_mels), prompt (batch, P) token ids (-1
    padded); ``end_id`` is the token that ends training targets (the preprocessor's
    ``end_id``). Joint CTC decoding (``options.ctc_weight`` > 0) needs ``ctc_rows`` (batch,)
    bool, the rows whose target starts with a transcript, and ``ctc_closes`` (vocab,) or
    (batch, vocab) bool, the tokens besides ``end_id`` that end a row's transcript
    (:func:`osum.decode.ctc_prefix.transcript_closers`; none for a transcript-only task).
    ``times``: the rows whose times are kept monotonic and within their audio
    (``options.monotonic_times``).
    """
    options = options or DecodeOptions()
    embeds, mask, ctc = decoder_inputs(
        model, speech, speech_lengths, prompt, prompt_lengths, options, ctc_rows, ctc_closes
    )
    return Decoder(model.llm, end_id)(embeds, mask, options, ctc, times)


@torch.no_grad()
def decoder_inputs(
    model,
    speech: torch.Tensor,
    speech_lengths: torch.Tensor,
    prompt: torch.Tensor,
    prompt_lengths: torch.Tensor,
    options: DecodeOptions,
    ctc_rows: torch.Tensor | None = None,
    ctc_closes: torch.Tensor | None = None,
) -> Tuple[torch.Tensor, torch.Tensor, CTCPrefix | None]:
    """The LLM's left-padded input embeddings (batch, L, hidden) and attention mask
    (batch, L) for speech and prompts (:func:`decode_speech`), and the CTC posteriors
    where ``options.ctc_weight`` > 0."""
    enc, enc_lengths = model.run_encoder(speech, speech_lengths)
    ctc = None
    if options.ctc_weight > 0:
        if model.ctc is None:
            raise ValueError(
                "joint CTC decoding (ctc_weight > 0) needs a model trained with a CTC "
                "head (model_conf.ctc_weight > 0)"
            )
        if ctc_rows is None or ctc_closes is None:
            raise ValueError("joint CTC decoding needs ctc_rows and ctc_closes")
        ctc = CTCPrefix(model.ctc.log_softmax(enc), enc_lengths, ctc_rows, ctc_closes)
    speech_emb, speech_emb_lengths = model.adapter(enc, enc_lengths)
    embeds, mask, _ = model.build_inputs(
        speech_emb, speech_emb_lengths, prompt, prompt_lengths, pad_side="left"
    )
    return embeds, mask, ctc


def greedy_tokens(
    model, speech, speech_lengths, prompt, prompt_lengths, end_id, max_new_tokens=64
) -> List[List[int]]:
    """Greedy decoding: the best token ids of each utterance, without the end token."""
    opts = DecodeOptions(max_new_tokens=max_new_tokens)
    nbest = decode_speech(model, speech, speech_lengths, prompt, prompt_lengths, end_id, opts)
    return [hyps[0].tokens for hyps in nbest]


class _Sampler:
    """Sampling as HF's ``generate`` samples (module doc): its warpers, and one generator a
    row, each seeded with ``opts.seed``."""

    def __init__(self, opts: DecodeOptions, rows: int, device, min_keep: int):
        warpers = []
        if opts.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(opts.temperature))
        if opts.top_k > 0:
            warpers.append(TopKLogitsWarper(opts.top_k, min_tokens_to_keep=min_keep))
        if opts.top_p < 1.0:
            warpers.append(TopPLogitsWarper(opts.top_p, min_tokens_to_keep=min_keep))
        self.warpers = LogitsProcessorList(warpers)
        # without a seed, a fresh one (torch.seed() would reseed the process's generator)
        seed = opts.seed if opts.seed is not None else secrets.randbits(63)
        self.gens = [torch.Generator(device=device) for _ in range(rows)]
        for g in self.gens:
            g.manual_seed(seed)

    def warp(self, seqs: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """(rows, vocab) logits or log-probabilities, filtered (-inf) and scaled."""
        return self.warpers(seqs, scores)

    def tokens(self, seqs: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """One token a row, drawn from the warped distribution."""
        probs = self.warp(seqs, logits).softmax(-1)
        return torch.cat(
            [
                torch.multinomial(probs[r : r + 1], 1, generator=g)[:, 0]
                for r, g in enumerate(self.gens)
            ]
        )

    def candidates(self, cand: torch.Tensor, n: int, done: List[bool]):
        """Beam search's ``n`` candidates of each row (batch, beams x vocab), drawn without
        replacement from the softmax of their scores, best first (a finished row's are
        not drawn)."""
        idx = torch.zeros(cand.shape[0], n, dtype=torch.long, device=cand.device)
        for r, g in enumerate(self.gens):
            # a row with nothing left to draw (every score -inf) keeps -inf candidates,
            # which beam search passes over, as it does without sampling
            if not done[r] and bool(torch.isfinite(cand[r]).any()):
                idx[r] = torch.multinomial(cand[r : r + 1].softmax(-1), n, generator=g)[0]
        scores, order = cand.gather(1, idx).sort(dim=1, descending=True)
        return scores, idx.gather(1, order)
