"""Text normalisation shared by targets and hypotheses (OSUM's rules).

    English lower-cased; whitespace collapsed; no spaces around CJK characters
    (Chinese text carries no spaces) nor around the tag brackets ``<`` and ``>``;
    control and format characters (a byte-level model can emit them) dropped: they are
    never words, and sclite cannot read a line holding them.

The same function is applied to training targets and to decoded hypotheses, so
scores never depend on spacing conventions.
"""

import re

# CJK ideographs (with extension A and compatibility), CJK punctuation, full-width forms
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef"
_CJK_CHAR = re.compile(f"[{CJK}]")
_SPACES = re.compile(r"\s+")
_AROUND_BRACKETS = re.compile(r" ?([<>]) ?")
_AROUND_CJK = re.compile(f" ?([{CJK}]) ?")


def is_cjk(ch: str) -> bool:
    return bool(_CJK_CHAR.fullmatch(ch))


def normalize(text: str) -> str:
    """OSUM normalisation; idempotent: normalize(normalize(x)) == normalize(x)."""
    s = _SPACES.sub(" ", text)
    if not s.isprintable():  # control, format, unassigned characters
        s = "".join(ch for ch in s if ch.isprintable())
    s = _SPACES.sub(" ", s.lower()).strip()
    # twice: "a < 中" has two spaces to remove on either side of overlapping matches
    for _ in range(2):
        s = _AROUND_BRACKETS.sub(r"\1", s)
        s = _AROUND_CJK.sub(r"\1", s)
    return s


def units(text: str):
    """Scoring/alignment units: English words (space-separated runs) and single CJK chars."""
    out = []
    for word in normalize(text).replace("<", " ").replace(">", " ").split():
        buf = ""
        for ch in word:
            if is_cjk(ch):
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(ch)
            else:
                buf += ch
        if buf:
            out.append(buf)
    return out


def join_units(tokens) -> str:
    """Inverse of :func:`units` on normalised text without tags."""
    return normalize(" ".join(tokens))
