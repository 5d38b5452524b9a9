"""Monotonic timestamps (``monotonic_times``, on by default; Whisper's timestamp rules do
the same).

In rows given a time limit (the timestamp tasks' rows, limited to their
audio's length), a time written as ``<seconds>`` may not be earlier than the time
before it nor later than the limit. The times are checked as they are written, digit
by digit: a token that would make the time being written impossible gets no score, so
``<1.90>the<1.`` cannot go on with ``0``. Scores stay the model's log-probabilities of
the tokens taken.
"""

import math
from dataclasses import dataclass
from typing import List

import torch


@dataclass
class Timestamps:
    """What monotonic timestamps need from the tokenizer and the tasks."""

    pieces: List[str]  # the string of every token id (``convert_ids_to_tokens``)
    limits: List[float | None]  # per row: the latest time in seconds; None: not timed


TIME_CHARS = frozenset("0123456789.")


def _time_span(partial: str) -> tuple[float, float] | None:
    """The values a time being written can still take: ``partial`` is what follows its
    ``<`` so far (``"1"``, ``"1."``, ``"1.9"``). None if it cannot be a time."""
    whole, dot, frac = partial.partition(".")
    if not whole or "." in frac:
        return None
    if dot:  # "1.9" -> [1.9, 2.0)
        low = float(f"{whole}.{frac}" if frac else whole)
        return low, low + 10.0 ** -len(frac)
    return float(whole), math.inf  # "1" -> 1, 1.x, 1x, 1x.x ...


def _time_possible(partial: str, after: float, limit: float) -> bool:
    """Can ``partial`` still become a time in [after, limit]?"""
    span = _time_span(partial)
    if span is None:
        return False
    whole, dot, _ = partial.partition(".")
    if dot:
        return span[1] > after and span[0] <= limit
    # an integer part of more digits: whole * 10^k ... (whole + 1) * 10^k
    low, high = int(whole), int(whole) + 1
    while low <= limit:
        if high > after:
            return True
        if low == 0:
            break  # no integer part is written with leading zeros
        low, high = low * 10, high * 10
    return False


class TimeRule:
    """Monotonic timestamps (module doc): per hypothesis, the last time written and the
    time being written, and the tokens that would break them."""

    def __init__(self, times: Timestamps, n_hyps: int):
        self.pieces = tokenizer_pieces = times.pieces
        # the tokens that can start or go on with a time, or end one: the others leave
        # the state alone (or abandon a time being written: ``<happy>`` is no time)
        self.opening = [i for i, p in enumerate(tokenizer_pieces) if "<" in p]
        self.going_on = [
            i for i, p in enumerate(tokenizer_pieces) if p and (p[0] in TIME_CHARS or p[0] == ">")
        ]
        self.limits = [lim for lim in times.limits for _ in range(n_hyps)]
        self.last = [0.0] * len(self.limits)
        self.open: List[str | None] = [None] * len(self.limits)
        self._cache: dict = {}

    def _step(self, state, piece: str):
        """(last, open) after ``piece``, or None if it breaks the rule."""
        last, partial, limit = state
        for c in piece:
            if partial is None:
                if c == "<":
                    partial = ""
            elif partial == "" and c not in TIME_CHARS:
                partial = "" if c == "<" else None  # a tag (``<happy>``), not a time
            elif c in TIME_CHARS:
                partial += c
            elif c == ">":
                span = _time_span(partial)
                if span is None or partial.endswith("."):
                    return None
                if not last - 1e-6 <= span[0] <= limit + 1e-6:
                    return None
                last, partial = span[0], None
            else:
                return None  # a time goes on with digits, a point or its ">"
        if partial and not _time_possible(partial, last, limit):
            return None
        return last, partial

    def forbidden(self, vocab: int, device) -> torch.Tensor | None:
        """(n_bh, vocab) bool: the tokens each hypothesis may not take now."""
        if all(lim is None for lim in self.limits):
            return None
        out = torch.zeros(len(self.limits), vocab, dtype=torch.bool)
        for h, limit in enumerate(self.limits):
            if limit is None:
                continue
            key = (self.last[h], self.open[h], limit)
            if key not in self._cache:
                if self.open[h]:  # inside a time: only what goes on with it
                    ok = [i for i in self.going_on if self._step(key, self.pieces[i])]
                    row = torch.ones(vocab, dtype=torch.bool)
                    row[ok] = False
                else:
                    ids = self.opening if self.open[h] is None else self.going_on + self.opening
                    row = torch.zeros(vocab, dtype=torch.bool)
                    row[[i for i in ids if self._step(key, self.pieces[i]) is None]] = True
                self._cache[key] = row if not bool(row.all()) else torch.zeros_like(row)
            out[h] = self._cache[key]
        return out.to(device)

    def advance(self, src: torch.Tensor, tokens: torch.Tensor):
        src, tokens = src.tolist(), tokens.tolist()
        self.limits = [self.limits[s] for s in src]
        last, partial = [], []
        for s, t, limit in zip(src, tokens, self.limits):
            state = (self.last[s], self.open[s], limit)
            piece = self.pieces[t] if t < len(self.pieces) else ""
            new = self._step(state, piece) if limit is not None else None
            last.append(new[0] if new else self.last[s])
            partial.append(new[1] if new else None)
        self.last, self.open = last, partial
