"""Metrics against hand-computed values; jiwer's error counts against sctk's sclite."""

import random

import pytest

from osum.scoring.metrics import (
    NONE_LABEL,
    average_absolute_shift,
    chrf,
    classification,
    confusion_text,
    error_rate,
    sclite_binary,
    sclite_error_rate,
)


def test_error_rate_by_hand():
    e = error_rate(
        ["u1", "u2", "u3", "u4"],
        ["a b c", "x y", "今天好", "Hello  World"],
        ["a c c d", "", "今天 天好", "hello world"],
    )
    # u1: b->c substitution + d inserted; u2: 2 deletions; u3: one inserted 天; u4: exact
    assert (e.substitutions, e.deletions, e.insertions, e.errors, e.ref_units) == (1, 2, 2, 5, 10)
    assert e.rate == pytest.approx(50.0)
    assert e.unit == "mixed"
    assert e.per_utt[0] == ("u1", 2, 3, "a S:b>c c I:d")
    assert e.per_utt[2] == ("u3", 1, 3, "今 天 I:天 好")
    assert error_rate(["z"], ["好"], ["好"]).unit == "char"
    assert error_rate(["z"], ["ok"], ["ok"]).unit == "word"
    empty_ref = error_rate(["z"], [""], ["extra words"])
    assert empty_ref.insertions == 2 and empty_ref.ref_units == 0


def test_aas_by_hand():
    ref = [[(0.10, 0.20, "a"), (0.30, 0.50, "b"), (0.60, 0.90, "c")]]
    hyp = [[(0.12, 0.20, "a"), (0.30, 0.45, "x"), (0.70, 0.80, "c")]]
    aas, matched = average_absolute_shift(ref, hyp)
    # a: (20 + 0) / 2 = 10 ms; c: (100 + 100) / 2 = 100 ms; b/x is a substitution
    assert matched == 2 and aas == pytest.approx(55.0)
    assert average_absolute_shift([[]], [[]])[1] == 0


def test_classification_by_hand():
    c = classification(
        ["happy", "sad", "sad", "anger"],
        ["happy", None, "sad", "happy"],
        ["sad", "anger", "happy", "neutral"],
    )
    assert c.accuracy == pytest.approx(50.0)
    # happy: P 1/2 R 1/1 F1 2/3; sad: P 1/1 R 1/2 F1 2/3; anger: P 0 R 0 F1 0
    assert c.macro_f1 == pytest.approx(100 * (2 / 3 + 2 / 3 + 0) / 3)
    assert c.recall == pytest.approx({"sad": 50.0, "anger": 0.0, "happy": 100.0})
    assert c.labels[-1] == NONE_LABEL and c.count == 4
    sad = c.labels.index("sad")
    assert c.confusion[sad][c.labels.index(NONE_LABEL)] == 1
    text = confusion_text(c)
    assert "neutral" not in text and "<none>" in text  # unused classes are left out


def test_chrf_bounds():
    assert chrf(["the cat sat"], ["the cat sat"]) == pytest.approx(100.0)
    assert chrf(["abc"], ["xyz"]) == pytest.approx(0.0)
    assert 0 < chrf(["the cat sat"], ["the cat sits"]) < 100


@pytest.mark.skipif(sclite_binary() is None, reason="sctk's sclite is not installed")
def test_sclite_agrees_with_jiwer(tmp_path):
    rng = random.Random(0)
    vocab = ["a", "b", "c", "the", "light", "打", "开", "灯"]
    utts, refs, hyps = [], [], []
    for i in range(60):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 8))]
        hyp = [w for w in ref if rng.random() > 0.2]
        for _ in range(rng.randint(0, 2)):
            hyp.insert(rng.randint(0, len(hyp)), rng.choice(vocab))
        if i % 7 == 0:
            hyp = []  # empty hypotheses
        utts.append(f"spk-{i:03d}")
        refs.append(" ".join(ref))
        hyps.append(" ".join(hyp))
    refs.append("Turn ON the light, please")  # real-looking text through the normaliser
    hyps.append("turn on a light please")
    utts.append("spk-999")
    # what an untrained byte-level model emits: control and format characters, broken bytes
    refs.append("打开厨房的灯")
    hyps.append("\ufffd\ufe05开et\x13l\x00为anger\u200b厨wri" * 20)
    utts.append("spk-998")
    ours = error_rate(utts, refs, hyps)
    errors, n = sclite_error_rate(utts, refs, hyps, tmp_path / "sclite")
    assert (errors, n) == (ours.errors, ours.ref_units)
    assert (tmp_path / "sclite" / "sclite.pralign").is_file()


def test_whisper_english_normalizer_option():
    from osum.scoring.score import text_normalizer

    norm = text_normalizer("whisper_en")
    assert norm("Mr. Smith's  COLOUR, please!") == text_normalizer("whisper_en")(
        "mister smith's color please"
    )
    assert text_normalizer("osum")("A  B") == "a b"
    with pytest.raises(ValueError, match="known"):
        text_normalizer("nope")
