"""Monotonic timestamps: times never go back nor past the audio, checked digit by digit."""

import re

import pytest
import torch

from helpers import make_model
from osum.asrx.preprocess import OSUMPreprocessor
from osum.decode.search import DecodeOptions, decode_speech
from osum.decode.timestamps import TimeRule, Timestamps, _time_possible

TIME = re.compile(r"<(\d+(?:\.\d+)?)>")


def test_a_time_being_written_is_possible_only_within_its_bounds():
    assert _time_possible("2", 2.5, 4.9)  # 2.5 ... 2.99
    assert not _time_possible("1", 2.5, 4.9)  # 1.x too early, 1x too late
    assert _time_possible("1", 2.5, 14.9)  # 1x.x
    assert not _time_possible("1.0", 1.9, 5.0) and _time_possible("1.9", 1.9, 5.0)
    assert _time_possible("1.", 1.9, 5.0)
    assert not _time_possible("5", 0.0, 4.9)
    assert not _time_possible(".5", 0.0, 4.9)


def test_the_rule_forbids_what_would_break_it_and_nothing_else():
    pieces = ["<", "0", "1", "2", "3", ".", "9", ">", "the", "<happy>", "<|im_end|>", "9>"]
    ids = {p: i for i, p in enumerate(pieces)}
    rule = TimeRule(Timestamps(pieces, [2.9, None]), 1)

    def forbidden():
        f = rule.forbidden(len(pieces), "cpu")
        assert not f[1].any()  # the untimed row is free
        return {pieces[i] for i in f[0].nonzero()[:, 0].tolist()}

    for p in ["<", "1", ".", "9", ">", "the", "<"]:  # <1.9>the<
        assert p not in forbidden()
        rule.advance(torch.tensor([0, 1]), torch.tensor([ids[p], ids[p]]))
    # inside a time only its digits, its point and ">" may follow, and only the
    # possible ones: 0 is before 1.9 (1 may be 1.9), 3 and 9 after 2.9
    assert forbidden() == {"0", ".", "3", "9", "9>"}
    rule.advance(torch.tensor([0, 1]), torch.tensor([ids["2"]] * 2))
    # "<2": 2.0 to 2.9 ("2." or "2>"), not 20 to 29
    assert forbidden() == set(pieces) - {".", ">"}
    # a tag is no time: after it, anything from 1.9 on
    rule = TimeRule(Timestamps(pieces, [3.0]), 1)
    for p in ["<", "1", ".", "9", ">", "<happy>", "the"]:
        rule.advance(torch.tensor([0]), torch.tensor([ids[p]]))
    assert rule.last == [1.9] and rule.open == [None]


@pytest.fixture(scope="module")
def timed(tiny_dirs):
    """A model whose LLM writes ``<3.1><3.1>...``: each token of the cycle makes the
    next one likely (the head row of the next is the embedding of the one before)."""
    model = make_model(tiny_dirs, trainable=("adapter", "lora"))
    pre = OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"])
    pieces = pre.tokenizer.convert_ids_to_tokens(list(range(len(pre.tokenizer))))
    base = model.llm.get_base_model()
    head, emb = base.lm_head.weight, base.get_input_embeddings().weight
    ids = {p: i for i, p in enumerate(pieces)}
    cycle = ["<", "3", ".", "1", ">"]
    with torch.no_grad():
        for a, b in zip(cycle, cycle[1:] + cycle[:1]):
            head[ids[b]] = 30 * emb[ids[a]] / emb[ids[a]].norm()
    g = torch.Generator().manual_seed(0)
    waves = [0.1 * torch.randn(int(s * 16000), generator=g) for s in (2.5, 1.2, 3.3, 1.5)]
    prompt = torch.from_numpy(pre.prompt_ids(pre.prompt_for("SRWT")))
    return model, pre.end_id, pieces, waves, prompt


def decode(timed, waves, opts, limits):
    model, end_id, pieces, _, prompt = timed
    pad = torch.nn.utils.rnn.pad_sequence
    return decode_speech(
        model,
        pad(waves, batch_first=True),
        torch.tensor([len(w) for w in waves]),
        torch.stack([prompt] * len(waves)),
        torch.tensor([len(prompt)] * len(waves)),
        end_id=end_id,
        options=opts,
        times=Timestamps(pieces, limits),
    )


def times_of(tokens, pieces):
    return [float(t) for t in TIME.findall("".join(pieces[i] for i in tokens))]


@pytest.mark.parametrize("beam", [1, 3])
def test_decoded_times_go_forward_within_the_audio(timed, beam):
    model, end_id, pieces, waves, prompt = timed
    limits = [len(w) / 16000 for w in waves]  # 3.1 is too late for the first and last
    limits[1] = None  # not a timed row: left alone
    free = DecodeOptions(beam_size=beam, max_new_tokens=40, monotonic_times=False)
    late = [max(times_of(n[0].tokens, pieces)) for n in decode(timed, waves, free, limits)]
    assert late == [3.1] * 4  # without the rule
    opts = DecodeOptions(beam_size=beam, max_new_tokens=40)
    batched = decode(timed, waves, opts, limits)
    for k, (nbest, limit) in enumerate(zip(batched, limits)):
        t = times_of(nbest[0].tokens, pieces)
        assert len(t) >= 2, "".join(pieces[i] for i in nbest[0].tokens)
        assert t == sorted(t) and max(t) <= (limit or 3.1), (k, t)
        if limit is None or limit > 3.1:
            assert nbest[0].tokens == decode(timed, [waves[k]], free, [limit])[0][0].tokens
        # the same answer alone as in the batch
        assert decode(timed, [waves[k]], opts, [limit])[0][0].tokens == nbest[0].tokens
