"""Normaliser and SRWT format: properties over generated text (hypothesis)."""

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from osum.asrx import srwt
from osum.asrx.text_norm import is_cjk, join_units, normalize, units

chars = st.sampled_from(list("abcXYZ é<> \t") + list("打开灯今天好，"))
text = st.text(chars, max_size=40)
english = st.text(st.sampled_from(list("abcdefgXYZ'")), min_size=1, max_size=8)
chinese = st.sampled_from(list("打开灯今天好中文"))


@given(text)
def test_normalize_is_idempotent_and_clean(s):
    n = normalize(s)
    assert normalize(n) == n
    assert n == n.strip() and "  " not in n and n == n.lower()
    for i, ch in enumerate(n):
        if ch == " ":
            assert not is_cjk(n[i - 1]) and not is_cjk(n[i + 1])
            assert n[i - 1] not in "<>" and n[i + 1] not in "<>"


def test_normalize_examples():
    assert normalize("  Hello   World ") == "hello world"
    assert normalize("今天 天气 很好") == "今天天气很好"
    assert normalize("I said 你好 < Happy >") == "i said你好<happy>"


@given(st.lists(st.one_of(english, chinese), max_size=12))
def test_units_and_join_are_inverse(tokens):
    tokens = [normalize(t) for t in tokens]
    assert units(join_units(tokens)) == tokens


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(st.one_of(english, chinese), st.integers(0, 300), st.integers(1, 300)),
        max_size=10,
    )
)
def test_srwt_format_parse_round_trip(items):
    t, alignment = 0, []
    for word, gap, dur in items:  # times in centiseconds: exact at 2 decimals
        start, t = t + gap, t + gap + dur
        alignment.append((start / 100, t / 100, word))
    target = srwt.format_alignment(alignment)
    parsed = srwt.parse(target)
    assert parsed.flags == ([] if alignment else ["no_timestamps"])
    assert [(round(s, 2), round(e, 2), w) for s, e, w in parsed.alignment] == [
        (s, e, normalize(w)) for s, e, w in alignment
    ]
    assert srwt.format_alignment(parsed.alignment) == target  # exact inverse
    assert parsed.transcript == join_units([normalize(w) for _, _, w in alignment])


def test_srwt_time_precision_is_a_task_option():
    from osum.asrx.registry import build_registry

    alignment = [(0.137, 0.551, "turn"), (0.649, 1.25, "on")]
    assert srwt.format_alignment(alignment) == "<0.14>turn<0.55><0.65>on<1.25>"
    osum_like = build_registry(overrides={"SRWT": {"time_decimals": 1}})["SRWT"]
    target = osum_like.build_target({"text": "turn on", "alignment": alignment})
    assert target == "<0.1>turn<0.6><0.6>on<1.2>"  # 1.25 -> 1.2: binary 1.25 rounds to even
    parsed = osum_like.parse(target)
    assert parsed.ok and parsed.alignment == [(0.1, 0.6, "turn"), (0.6, 1.2, "on")]
    with pytest.raises(ValueError, match="0 to 3 decimals"):
        srwt.format_alignment(alignment, 5)
    with pytest.raises(ValueError, match="task SRWT: time_decimals takes 0 to 3, not 4"):
        build_registry(overrides={"SRWT": {"time_decimals": 4}})


FLAGS = {"no_timestamps", "untimed_text", "bad_times", "bad_tag", "merged_units"}
time_tag = st.builds("<{:.2f}>".format, st.integers(0, 999).map(lambda c: c / 100))
# pieces of SRWT strings, broken ones included: the unit pattern is matched often, unlike
# in character soup, and so are merged units, times going backwards and tags not times
srwt_piece = st.one_of(
    time_tag,
    english,
    chinese,
    st.sampled_from(["<", ">", " ", "<x>", "<>", "< 1.5 >", "<1.>", "<2", "3>", "\t", "new york"]),
)
any_text = st.one_of(
    st.text(st.sampled_from(list("<>0123.456789ab 打")), max_size=30),
    st.lists(srwt_piece, max_size=16).map("".join),
    st.text(max_size=30),  # any unicode
)


def is_subsequence(sub, seq):
    it = iter(seq)
    return all(any(x == y for y in it) for x in sub)


def tol(t):
    return 1e-6 + 1e-9 * abs(t)  # parse's own 1e-6 slack, plus float error at large times


def same_times(got, expected):
    """Same units, times equal but for float error (parse computes a unit's end as
    start + (end - start): 3.98 may come back as 3.9800000000000004)."""
    return [u for *_, u in got] == [u for *_, u in expected] and all(
        abs(a - c) <= 1e-9 * max(1.0, abs(c)) and abs(b - d) <= 1e-9 * max(1.0, abs(d))
        for (a, b, _), (c, d, _) in zip(got, expected)
    )


@settings(max_examples=300)
@given(any_text)
@example("<0.23>a a a<0>")  # times going backwards, split among merged units
@example("<1.95>x<3.98>")  # float error: its end comes back as 3.9800000000000004
@example("<0.10>turn< 0.30 >  <0.3>on 打<0.5> off<x>")
def test_srwt_parse_never_raises(s):
    """On any string parse returns a ParsedSRWT of the documented types: timed units that
    are units of the input, in its order; a normalised transcript of the input's words;
    the documented flags only. Without ``bad_times`` the times are ordered, and what it
    returns formats to an SRWT string that parses back to itself."""
    p = srwt.parse(s)
    assert isinstance(p, srwt.ParsedSRWT)
    assert isinstance(p.alignment, list) and isinstance(p.transcript, str)
    assert isinstance(p.flags, list) and set(p.flags) <= FLAGS
    assert len(set(p.flags)) == len(p.flags)
    for item in p.alignment:
        assert isinstance(item, tuple) and len(item) == 3
        start, end, unit = item
        assert type(start) is float and type(end) is float and isinstance(unit, str)
        # no time below 0 (but for float error: "<0.23>a a a<0>" ends a at -2.8e-17)
        assert -1e-9 <= start < float("inf") and -1e-9 <= end < float("inf")
        assert units(unit) == [unit]  # one English word or one Chinese character
    assert ("no_timestamps" in p.flags) == (not p.alignment)

    # words come from the input, in its order; the timed ones are in the transcript
    timed = [u for *_, u in p.alignment]
    assert p.transcript == normalize(p.transcript)
    assert is_subsequence(units(p.transcript), units(s))
    assert is_subsequence(timed, units(p.transcript))
    if "untimed_text" not in p.flags:
        assert p.transcript == join_units(timed)
    if not {"untimed_text", "bad_tag"} & set(p.flags):  # all of it was timed units:
        assert timed == units(re.sub(r"<[^<>]*>", " ", normalize(s)))  # every word timed

    if "bad_times" not in p.flags:
        last = 0.0
        for start, end, _ in p.alignment:
            assert start >= 0 and end >= 0
            assert start <= end + tol(end)
            assert start >= last - tol(last)
            last = max(last, end)

    # what parse returns is an alignment: it formats, and parses back to itself (times
    # rounded to the format's 2 decimals), all of it timed
    formatted = srwt.format_alignment(p.alignment)
    again = srwt.parse(formatted)
    assert same_times(again.alignment, [(round(a, 2), round(b, 2), u) for a, b, u in p.alignment])
    assert set(again.flags) <= {"no_timestamps", "bad_times"}
    assert again.transcript == join_units(timed)


@settings(max_examples=200)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 300), st.one_of(english, chinese))))
def test_srwt_string_parse_format_round_trip(items):
    """A well-formed SRWT string, written here by hand, parses to its words and times
    with no flag, and formats back to the same string."""
    t, s, expected = 0, "", []
    for gap, dur, word in items:  # centiseconds, times never going backwards
        start, t = t + gap, t + gap + dur
        word = normalize(word)
        s += f"<{start // 100}.{start % 100:02d}>{word}<{t // 100}.{t % 100:02d}>"
        expected.append((start / 100, t / 100, word))
    p = srwt.parse(s)
    assert p.flags == ([] if items else ["no_timestamps"])
    assert same_times(p.alignment, expected)
    assert p.transcript == join_units([w for *_, w in expected])
    assert srwt.format_alignment(p.alignment) == s


def test_srwt_parse_of_backwards_merged_units_formats_and_parses_back():
    """Times going backwards over merged units: the last unit ends at the span's own end
    (0, not 0.23 + 3 * (-0.23 / 3) = -2.8e-17, which formats as "<-0.00>", a tag that is
    not a time), so the string parses back with every unit."""
    p = srwt.parse("<0.23>a a a<0>")
    assert p.alignment[-1][1] == 0.0
    assert srwt.parse("<1.95>x<3.98>").alignment == [(1.95, 3.98, "x")]  # exactly
    assert p.flags == ["bad_times", "merged_units"]
    again = srwt.parse(srwt.format_alignment(p.alignment))
    assert [u for *_, u in again.alignment] == ["a", "a", "a"]
    assert "bad_tag" not in again.flags


def test_srwt_splits_merged_units_with_a_flag():
    p = srwt.parse("<0.10>new york<0.50><0.50>打开<0.90>")
    assert [w for *_, w in p.alignment] == ["new", "york", "打", "开"]
    assert abs(p.alignment[1][0] - 0.3) < 1e-9 and p.alignment[1][1] == 0.5
    assert p.flags == ["merged_units"] and p.transcript == "new york打开"
