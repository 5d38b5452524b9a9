"""Joint CTC/attention decoding (``ctc_weight`` > 0, for models trained with a CTC head).

As ESPnet's hybrid decoding, the ``ctc_candidates`` best tokens of the LLM at each step
are rescored by ``(1 - ctc_weight) * log p_llm + ctc_weight * log p_ctc``, the CTC term
being the prefix score of the transcript so far (ESPnet's ``CTCPrefixScoreTH``). The CTC
covers the transcript only: it scores the tokens of the target up to the first token
that opens a tag (``<``: a label, the answer marker) or ends it, and that token gets the
CTC's end-of-transcript score; the tokens after it are scored by the LLM alone
(weighted ``1 - ctc_weight``). Tasks whose target is not a transcript first (SRWT's
timestamps) are decoded by the LLM alone. Hypothesis scores are then the joint scores.
"""

from dataclasses import dataclass

import torch
from espnet.nets.ctc_prefix_score import CTCPrefixScoreTH


@dataclass
class CTCPrefix:
    """What joint CTC/attention decoding needs from the model and the tasks."""

    # (batch, frames, vocab + 1) CTC log-posteriors: blank 0, token i at i + 1; the
    # decoder overwrites its padded frames
    logp: torch.Tensor
    lengths: torch.Tensor  # (batch,) valid frames
    rows: torch.Tensor  # (batch,) bool: the row's target starts with a transcript
    # (vocab,) or (batch, vocab) bool: the tokens that end the transcript besides the end
    # token (label tags, the answer marker), for every row or per row (a transcript-only
    # task's row has none: its transcript ends only with the target)
    closes: torch.Tensor


class JointCTC:
    """CTC prefix scores of the transcript part of every hypothesis (n_hyps per row)."""

    def __init__(self, ctc: CTCPrefix, end_id: int, weight: float, candidates: int, n_hyps: int):
        self.weight, self.k, self.n_hyps = weight, candidates, n_hyps
        self.eos = end_id + 1
        self.odim = ctc.logp.shape[-1]
        # the scorer overwrites the padded frames of logp in place: no copy of a tensor
        # that is batch x frames x vocabulary large
        self.scorer = CTCPrefixScoreTH(ctc.logp.float(), ctc.lengths, 0, self.eos)
        self.frames = ctc.lengths.to(ctc.rows.device).repeat_interleave(n_hyps)
        closes = ctc.closes.bool().expand(len(ctc.rows), -1).clone()
        closes[:, end_id] = True
        self.closes = closes.repeat_interleave(n_hyps, dim=0)  # (n_bh, vocab)
        self.on = ctc.rows.bool().repeat_interleave(n_hyps)  # scoring the transcript still
        self.last = [self.eos] * len(self.on)  # the start symbol, as ESPnet's sos
        self.t, self.state, self.pending = 0, None, None

    def scores(self, logp: torch.Tensor) -> torch.Tensor:
        """LLM log-probabilities (n_bh, vocab) -> joint score increments."""
        w = self.weight
        out = (1 - w) * logp
        self.pending = None
        # a prefix of t + 1 tokens needs t + 1 frames: a row whose audio is shorter than
        # the text so far is left to the LLM (ESPnet caps the output length instead)
        self.on &= self.t < self.frames
        if not bool(self.on.any()):
            return out
        k = min(self.k, logp.shape[-1])
        cand = logp.topk(k, dim=-1).indices  # (n_bh, k)
        ctc_ids = (cand + 1).clamp(max=self.odim - 1)
        y = [[self.eos] * self.t + [last] for last in self.last]
        inc, self.pending = self.scorer(y, self.state, scoring_ids=ctc_ids)
        ctc = inc.gather(1, ctc_ids)
        closing = self.closes.gather(1, cand)
        ctc = torch.where(closing, inc[:, self.eos : self.eos + 1].expand_as(ctc), ctc)
        joint = torch.full_like(logp, float("-inf"))
        joint.scatter_(1, cand, (1 - w) * logp.gather(1, cand) + w * ctc.to(logp.dtype))
        return torch.where(self.on[:, None], joint, out)

    def advance(self, src: torch.Tensor, tokens: torch.Tensor):
        """The new hypotheses: ``tokens`` appended to hypotheses ``src`` (global indices)."""
        if self.pending is not None:
            local = src % self.n_hyps
            best = (local * self.odim + (tokens + 1).clamp(max=self.odim - 1)).view(-1, self.n_hyps)
            self.state = self.scorer.index_select_state(self.pending, best)
        self.on = self.on[src] & ~self.closes[src, tokens]
        self.last = (tokens + 1).clamp(max=self.odim - 1).tolist()
        self.t += 1


def transcript_closers(tokenizer, vocab_size: int) -> torch.Tensor:
    """(vocab_size,) bool: the tokens that end the transcript part of a target for joint
    CTC decoding: those containing ``<`` (a label tag, the answer marker, special tokens)."""
    out = torch.zeros(vocab_size, dtype=torch.bool)
    ids = [i for tok, i in tokenizer.get_vocab().items() if "<" in tok and i < vocab_size]
    out[ids] = True
    return out
