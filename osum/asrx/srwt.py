"""The SRWT target format: a transcript with start and end times on every unit.

Units are English words and single Chinese characters (:func:`osum.asrx.text_norm.units`).
Each unit is written as ``<START>unit<END>`` with times in seconds and exactly two
decimals (the task's ``time_decimals``: 1 gives OSUM's 0.1 s), units back to back with
nothing between them:

    <0.12>turn<0.31><0.33>on<0.45><0.52>the<0.60><0.61>light<1.02>
    <0.10>打<0.32><0.32>开<0.55><0.55>灯<0.80>

Normalised as every target (English lower-cased, no spaces around ``<`` ``>`` or Chinese
characters). :func:`parse` inverts :func:`format_alignment` exactly and recovers what it
can from a broken hypothesis, with flags instead of exceptions.
"""

import re
from dataclasses import dataclass, field
from typing import List, Sequence, Tuple

from osum.asrx.text_norm import join_units, normalize, units

Alignment = List[Tuple[float, float, str]]  # (start s, end s, unit)

_TIME = r"<\s*(\d+(?:\.\d*)?)\s*>"
_UNIT = re.compile(_TIME + r"([^<>]+?)" + _TIME)
_TAG = re.compile(r"<[^<>]*>")


def split_to_units(alignment: Sequence[Tuple[float, float, str]]) -> Alignment:
    """Word-level (start, end, word) -> unit level: a Chinese word of n characters gets
    n equal slices of its span, and so does a span holding several English words (a
    hypothesis may time "new york" as one unit); text is normalised."""
    out: Alignment = []
    for start, end, word in alignment:
        pieces = units(word)  # English words and single Chinese characters
        n = max(len(pieces), 1)
        # the last piece ends at ``end`` itself: a span's own times come back exactly
        bounds = [start + i * (end - start) / n for i in range(n)] + [end]
        out.extend((bounds[i], bounds[i + 1], u) for i, u in enumerate(pieces))
    return out


def format_alignment(alignment: Sequence[Tuple[float, float, str]], decimals: int = 2) -> str:
    """(start, end, word) triples -> the SRWT target string, times with ``decimals``
    digits after the point (2 by default; 1 is OSUM's 0.1 s)."""
    if not 0 <= decimals <= 3:
        raise ValueError(f"SRWT times take 0 to 3 decimals, not {decimals}")
    return "".join(
        f"<{s:.{decimals}f}>{w}<{e:.{decimals}f}>" for s, e, w in split_to_units(alignment)
    )


@dataclass
class ParsedSRWT:
    alignment: Alignment = field(default_factory=list)
    transcript: str = ""
    flags: List[str] = field(default_factory=list)


def parse(text: str) -> ParsedSRWT:
    """SRWT string -> units with times, transcript, and flags for what was broken.

    Flags: ``no_timestamps`` (no timed unit found), ``untimed_text`` (text outside the
    ``<t>unit<t>`` pattern, kept in the transcript), ``bad_times`` (end before start or
    time going backwards), ``bad_tag`` (a ``<...>`` that is not a time),
    ``merged_units`` (several words or Chinese characters under one pair of times: the
    span is split evenly among them).
    """
    s = normalize(text)
    result = ParsedSRWT()
    words: List[str] = []
    pos = 0
    last_end = 0.0
    for m in _UNIT.finditer(s):
        gap = s[pos : m.start()]
        if gap.strip():
            _untimed(gap, words, result)
        start, unit, end = float(m.group(1)), m.group(2).strip(), float(m.group(3))
        if end < start or start < last_end - 1e-6:
            _flag(result, "bad_times")
        last_end = max(last_end, end)
        pieces = split_to_units([(start, end, unit)])
        if len(pieces) > 1:
            _flag(result, "merged_units")
        result.alignment.extend(pieces)
        words.extend(u for _, _, u in pieces)
        pos = m.end()
    if s[pos:].strip():
        _untimed(s[pos:], words, result)
    if not result.alignment:
        _flag(result, "no_timestamps")
    result.transcript = join_units(words)
    return result


def _untimed(text: str, words: List[str], result: ParsedSRWT) -> None:
    if _TAG.search(text):
        _flag(result, "bad_tag")
    plain = _TAG.sub(" ", text).strip()
    if plain:
        _flag(result, "untimed_text")
        words.append(plain)


def _flag(result: ParsedSRWT, flag: str) -> None:
    if flag not in result.flags:
        result.flags.append(flag)
