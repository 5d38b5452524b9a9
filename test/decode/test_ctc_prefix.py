"""Joint CTC/attention decoding: ESPnet's prefix scores, the transcript-only scope, batches."""

import numpy as np
import pytest
import torch
from espnet.nets.ctc_prefix_score import CTCPrefixScore

from helpers import make_model
from osum.asrx.preprocess import OSUMPreprocessor
from osum.decode.ctc_prefix import CTCPrefix, JointCTC, transcript_closers
from osum.decode.search import DecodeOptions, Decoder, decode_speech

END = 5  # the end token of the small vocabularies below


def ctc_prefix(logp, rows=None, closes=None):
    batch, frames, odim = logp.shape
    return CTCPrefix(
        logp,
        torch.full((batch,), frames),
        torch.ones(batch, dtype=torch.bool) if rows is None else rows,
        torch.zeros(odim - 1, dtype=torch.bool) if closes is None else closes,
    )


def test_prefix_scores_are_espnets_reference_scores():
    """The increments equal those of ESPnet's per-hypothesis numpy CTCPrefixScore."""
    g = torch.Generator().manual_seed(0)
    vocab, frames, w = 8, 14, 0.5
    logp = torch.randn(1, frames, vocab + 1, generator=g).log_softmax(-1)
    closes = torch.zeros(vocab, dtype=torch.bool)
    closes[3] = True  # a tag opener: scored as the end of the transcript
    opts = DecodeOptions(ctc_weight=w, ctc_candidates=vocab)
    joint = JointCTC(
        ctc_prefix(logp.clone(), closes=closes), END, opts.ctc_weight, opts.ctc_candidates, n_hyps=1
    )
    ref = CTCPrefixScore(logp[0].double().numpy(), 0, END + 1, np)
    state, prev, prefix = ref.initial_state(), 0.0, [END + 1]
    for token in [1, 1, 6, 2]:  # a repeated token needs a blank between its two frames
        inc = joint.scores(torch.zeros(1, vocab))[0] / w  # LLM term 0: the CTC alone
        psi, states = ref(prefix, np.arange(1, vocab + 1), state)
        eos = ref(prefix, np.array([END + 1]), state)[0][0]
        for t in range(vocab):
            want = (eos if t in (3, END) else psi[t]) - prev
            assert inc[t].item() == pytest.approx(want, abs=1e-4), (prefix, t)
        joint.advance(torch.tensor([0]), torch.tensor([token]))
        prefix, prev, state = prefix + [token + 1], psi[token], states[token]


def test_a_closing_token_ends_the_ctc_scope():
    logp = torch.randn(2, 10, 9).log_softmax(-1)
    closes = torch.zeros(8, dtype=torch.bool)
    closes[3] = True
    opts = DecodeOptions(ctc_weight=0.4, ctc_candidates=2)
    rows = torch.tensor([True, False])  # the second row's task has no transcript first
    joint = JointCTC(
        ctc_prefix(logp, rows=rows, closes=closes),
        END,
        opts.ctc_weight,
        opts.ctc_candidates,
        n_hyps=1,
    )
    llm = torch.randn(2, 8).log_softmax(-1)
    first = joint.scores(llm)
    assert torch.isinf(first[0]).sum() == 6  # only the 2 candidates are kept
    assert torch.equal(first[1], 0.6 * llm[1])  # LLM alone, weighted
    joint.advance(torch.tensor([0, 1]), torch.tensor([3, 1]))
    assert not joint.on.any()
    assert torch.equal(joint.scores(llm), 0.6 * llm)


def test_a_transcript_only_row_is_closed_by_the_end_token_alone():
    """Per-row closers: a tag after a complete transcript gets the CTC end score where the
    task's target goes on with tags, the CTC score of one more word where it does not
    (an ASR hypothesis may not open a tag to leave its CTC score behind)."""
    vocab = 8
    logp = spelled([1, 2], vocab=vocab, batch=2)
    closes = torch.zeros(2, vocab, dtype=torch.bool)
    closes[0, 3] = True  # row 0: a label task; row 1: transcript only
    opts = DecodeOptions(ctc_weight=0.5, ctc_candidates=vocab)
    joint = JointCTC(
        ctc_prefix(logp, closes=closes), END, opts.ctc_weight, opts.ctc_candidates, n_hyps=1
    )
    for token in (1, 2):
        joint.scores(torch.zeros(2, vocab))
        joint.advance(torch.tensor([0, 1]), torch.tensor([token, token]))
    inc = joint.scores(torch.zeros(2, vocab))
    assert inc[0, 3] == pytest.approx(inc[0, END].item())  # the tag ends row 0's transcript
    assert inc[1, 3] < inc[1, END] - 2  # and is one more (unlikely) word in row 1's
    assert inc[0, END] == pytest.approx(inc[1, END].item())
    joint.advance(torch.tensor([0, 1]), torch.tensor([3, 3]))
    assert joint.on.tolist() == [False, True]


def spelled(tokens, frames_per_token=3, vocab=None, batch=1):
    """CTC log-posteriors that say ``tokens`` (blank between them) with confidence."""
    frames = []
    for t in tokens:
        frames += [t + 1] * frames_per_token + [0]
    p = torch.full((batch, len(frames), vocab + 1), 0.01 / vocab)
    for i, c in enumerate(frames):
        p[:, i, c] = 0.99
    return p.log()


@pytest.fixture(scope="module")
def setup(tiny_dirs):
    model = make_model(tiny_dirs, trainable=("adapter", "lora"), ctc_weight=0.3)
    pre = OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"])
    return model, pre


@pytest.mark.parametrize("beam", [1, 3])
def test_a_confident_ctc_steers_the_random_llm(setup, beam):
    model, pre = setup
    vocab = model.ctc.ctc_lo.out_features - 1
    embeds = torch.randn(2, 7, model.llm.get_base_model().config.hidden_size)
    mask = torch.ones(2, 7, dtype=torch.long)
    words = [11, 42, 42, 7]
    ctc = ctc_prefix(
        spelled(words, vocab=vocab, batch=2),
        rows=torch.tensor([True, False]),
        closes=torch.zeros(vocab, dtype=torch.bool),  # only the end token closes
    )
    decoder = Decoder(model.llm, pre.end_id)
    opts = DecodeOptions(beam_size=beam, max_new_tokens=8, ctc_weight=0.9, ctc_candidates=vocab)
    out = decoder(embeds, mask, opts, ctc)
    assert out[0][0].tokens == words and out[0][0].finished
    plain = decoder(embeds[1:], mask[1:], DecodeOptions(beam_size=beam, max_new_tokens=8))
    assert out[1][0].tokens == plain[0][0].tokens  # the row without a transcript


def test_transcript_closers(setup):
    _, pre = setup
    tok = pre.tokenizer
    closes = transcript_closers(tok, len(tok) + 3)
    assert closes[tok.convert_tokens_to_ids("<")] and closes[pre.end_id]
    assert not closes[tok.encode("the", add_special_tokens=False)].any()
    assert not closes[len(tok) :].any()


def test_joint_decoding_is_batch_invariant(setup):
    model, pre = setup
    g = torch.Generator().manual_seed(1)
    tasks = ["ASR", "SER", "SRWT", "STTC", "AGE_GENDER"]
    waves = [0.1 * torch.randn(int(s * 16000), generator=g) for s in (1.3, 0.5, 2.0, 0.9, 1.1)]
    prompts = [torch.from_numpy(pre.prompt_ids(pre.prompt_for(t))) for t in tasks]
    rows = torch.tensor(
        [pre.registry[t].transcript and not pre.registry[t].timestamps for t in tasks]
    )
    closes = transcript_closers(pre.tokenizer, model.ctc.ctc_lo.out_features - 1)
    pad = torch.nn.utils.rnn.pad_sequence

    def run(idx, opts):
        return decode_speech(
            model,
            pad([waves[i] for i in idx], batch_first=True),
            torch.tensor([len(waves[i]) for i in idx]),
            pad([prompts[i] for i in idx], batch_first=True, padding_value=-1),
            torch.tensor([len(prompts[i]) for i in idx]),
            end_id=pre.end_id,
            options=opts,
            ctc_rows=rows[idx],
            ctc_closes=closes,
        )

    for beam in (1, 2):
        opts = DecodeOptions(beam_size=beam, max_new_tokens=10, ctc_weight=0.5)
        batched = run(list(range(5)), opts)
        single = [run([i], opts)[0] for i in range(5)]
        assert [n[0].tokens for n in batched] == [n[0].tokens for n in single]
        assert [n[0].score for n in batched] == pytest.approx(
            [n[0].score for n in single], abs=1e-4
        )


def test_errors(tiny_dirs, setup):
    model, pre = setup
    for bad in (dict(ctc_weight=1.0), dict(ctc_weight=-0.1), dict(ctc_candidates=0)):
        with pytest.raises(ValueError, match="ctc_"):
            DecodeOptions(**bad)
    with pytest.raises(ValueError, match="does not sample"):
        DecodeOptions(ctc_weight=0.3, do_sample=True)
    no_ctc = make_model(tiny_dirs, trainable=("adapter",))
    speech, lens = torch.zeros(1, 16000), torch.tensor([16000])
    prompt, plens = torch.tensor([[1, 2]]), torch.tensor([2])
    with pytest.raises(ValueError, match="CTC head"):
        decode_speech(
            no_ctc, speech, lens, prompt, plens, pre.end_id, DecodeOptions(ctc_weight=0.3)
        )
    with pytest.raises(ValueError, match="ctc_rows"):
        decode_speech(model, speech, lens, prompt, plens, pre.end_id, DecodeOptions(ctc_weight=0.3))


def test_audio_shorter_than_the_text_is_left_to_the_llm():
    """A row with fewer CTC frames than tokens so far stops being CTC-scored (ESPnet's
    scorer cannot score a prefix longer than its input) instead of failing."""
    vocab, w = 8, 0.3
    logp = torch.randn(2, 3, vocab + 1).log_softmax(-1)
    ctc = CTCPrefix(
        logp,
        torch.tensor([3, 2]),
        torch.ones(2, dtype=torch.bool),
        torch.zeros(vocab, dtype=torch.bool),
    )
    joint = JointCTC(ctc, END, w, 3, n_hyps=1)
    llm = torch.randn(2, vocab).log_softmax(-1)
    on = []
    for _ in range(6):
        scores = joint.scores(llm)
        on.append(joint.on.tolist())
        if not joint.on.any():
            assert torch.equal(scores, (1 - w) * llm)
        joint.advance(torch.tensor([0, 1]), torch.tensor([1, 2]))
    assert on[:4] == [[True, True], [True, True], [True, False], [False, False]]
