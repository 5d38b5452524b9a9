"""Normaliser and SRWT format: properties over generated text (hypothesis)."""

import pytest
from hypothesis import given, settings
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


@given(st.text(st.sampled_from(list("<>0123.456789ab 打")), max_size=30))
def test_srwt_parse_never_raises(s):
    p = srwt.parse(s)
    assert isinstance(p.flags, list)


def test_srwt_splits_merged_units_with_a_flag():
    p = srwt.parse("<0.10>new york<0.50><0.50>打开<0.90>")
    assert [w for *_, w in p.alignment] == ["new", "york", "打", "开"]
    assert abs(p.alignment[1][0] - 0.3) < 1e-9 and p.alignment[1][1] == 0.5
    assert p.flags == ["merged_units"] and p.transcript == "new york打开"
