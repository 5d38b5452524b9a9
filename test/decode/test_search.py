"""Batched decoding: identical answers at any batch size, equal to HF generate, sound beams."""

import collections

import pytest
import torch

from helpers import make_model
from osum.asrx.preprocess import OSUMPreprocessor
from osum.decode.search import DecodeOptions, Decoder, decode_speech

TASKS = ["ASR", "SER", "SRWT", "STTC", "SGC", "AGE_GENDER", "SAP", "VED"]


@pytest.fixture(scope="module")
def setup(tiny_dirs):
    model = make_model(tiny_dirs, trainable=("adapter", "lora"))
    pre = OSUMPreprocessor(train=False, tokenizer=tiny_dirs["llm"])
    g = torch.Generator().manual_seed(0)
    lengths = [1.7, 0.4, 2.9, 1.0, 0.25, 2.2, 0.8, 1.3]
    waves = [0.1 * torch.randn(int(s * 16000), generator=g) for s in lengths]
    prompts = [torch.from_numpy(pre.prompt_ids(pre.prompt_for(t))) for t in TASKS]
    # make the end token likely somewhere: its row copies (and slightly beats) the row of
    # the token the random model emits most, so rows end at different steps
    head = model.llm.get_base_model().lm_head.weight
    first = run(model, pre.end_id, waves, prompts, DecodeOptions(max_new_tokens=12))
    common = collections.Counter(t for h in first for t in h[0].tokens).most_common(1)[0][0]
    with torch.no_grad():
        head[pre.end_id] = head[common] * 1.02
    return model, pre.end_id, waves, prompts


def batch(model, waves, prompts):
    pad = torch.nn.utils.rnn.pad_sequence
    speech = pad(waves, batch_first=True)
    prompt = pad(prompts, batch_first=True, padding_value=-1)
    lens = torch.tensor([len(w) for w in waves])
    plens = torch.tensor([len(p) for p in prompts])
    return speech, lens, prompt, plens


def run(model, end_id, waves, prompts, opts):
    return decode_speech(model, *batch(model, waves, prompts), end_id=end_id, options=opts)


def one_by_one(model, end_id, waves, prompts, opts):
    return [run(model, end_id, [w], [p], opts)[0] for w, p in zip(waves, prompts)]


@pytest.mark.parametrize("beam", [1, 3])
def test_batch_of_8_equals_one_at_a_time(setup, beam):
    model, end_id, waves, prompts = setup
    opts = DecodeOptions(beam_size=beam, nbest=beam, max_new_tokens=15)
    batched = run(model, end_id, waves, prompts, opts)
    single = one_by_one(model, end_id, waves, prompts, opts)
    assert [[h.tokens for h in n] for n in batched] == [[h.tokens for h in n] for n in single]
    if beam == 1:  # some rows end early, some run to max_new_tokens
        assert any(h[0].finished for h in batched) and not all(h[0].finished for h in batched)


def spliced(model, wave, prompt):
    speech, lens, p, plens = batch(model, [wave], [prompt])
    emb, emb_lens = model.encode_speech(speech, lens)
    embeds, mask, _ = model.build_inputs(emb, emb_lens, p, plens, pad_side="left")
    return embeds, mask


def test_greedy_equals_hf_generate(setup):
    model, end_id, waves, prompts = setup
    for w, p in zip(waves, prompts):
        embeds, mask = spliced(model, w, p)
        for penalty in (1.0, 1.3):
            opts = DecodeOptions(max_new_tokens=15, repetition_penalty=penalty)
            ours = Decoder(model.llm, end_id)(embeds, mask, opts)[0][0]
            hf = model.llm.generate(
                inputs_embeds=embeds,
                attention_mask=mask,
                max_new_tokens=15,
                do_sample=False,
                num_beams=1,
                eos_token_id=end_id,
                pad_token_id=end_id,
                repetition_penalty=penalty,
            )
            assert hf[0].tolist() == ours.tokens + ([end_id] if ours.finished else [])


def test_beam_one_is_greedy(setup):
    model, end_id, waves, prompts = setup
    decoder = Decoder(model.llm, end_id)
    for w, p in zip(waves, prompts):
        embeds, mask = spliced(model, w, p)
        greedy = decoder(embeds, mask, DecodeOptions(max_new_tokens=15))[0][0]
        beam = decoder.beam_search(embeds, mask, DecodeOptions(beam_size=1, max_new_tokens=15))
        assert beam[0][0].tokens == greedy.tokens
        assert beam[0][0].logprob == pytest.approx(greedy.logprob, abs=1e-4)


def teacher_forced_logprob(model, end_id, wave, prompt, hyp):
    speech, lens, p, plens = batch(model, [wave], [prompt])
    emb, emb_lens = model.encode_speech(speech, lens)
    tokens = torch.tensor([hyp.tokens + ([end_id] if hyp.finished else [])])
    embeds, mask, labels = model.build_inputs(
        emb, emb_lens, p, plens, tokens, torch.tensor([tokens.shape[1]])
    )
    logits = model.llm(inputs_embeds=embeds, attention_mask=mask).logits.float()
    logp = torch.log_softmax(logits[:, :-1], -1)
    target = labels[:, 1:]
    sel = target != -100
    return logp[sel].gather(1, target[sel][:, None]).sum().item()


def test_beam_scores_are_the_model_log_probabilities_and_sorted(setup):
    model, end_id, waves, prompts = setup
    opts = DecodeOptions(beam_size=4, nbest=4, max_new_tokens=12, length_penalty=1.0)
    nbest = run(model, end_id, waves[:4], prompts[:4], opts)
    for n, w, p in zip(nbest, waves, prompts):
        assert len(n) == 4
        scores = [h.score for h in n]
        assert scores == sorted(scores, reverse=True)
        for h in n:
            length = len(h.tokens) + h.finished
            assert h.score == pytest.approx(h.logprob / length, rel=1e-6)
            assert h.logprob == pytest.approx(
                teacher_forced_logprob(model, end_id, w, p, h), abs=1e-3
            )
        # the beam's best is at least as good as the greedy path under the same score
        g = run(model, end_id, [w], [p], DecodeOptions(max_new_tokens=12))[0][0]
        assert n[0].score >= g.score - 1e-5


# OSUM's decoding (its reference's generate call): 4 beams, sampled, top-k 5, top-p 0.9,
# repetition penalty 1.05; and plain sampling
SAMPLED = {
    "osum_beam_sampling": dict(beam_size=4, top_k=5, top_p=0.9, repetition_penalty=1.05),
    "beam_sampling_hot": dict(beam_size=3, top_k=0, top_p=1.0, temperature=1.5),
    "sampling": dict(beam_size=1, top_k=20, top_p=0.9, repetition_penalty=1.05),
}


@pytest.mark.parametrize("name", SAMPLED)
def test_sampling_equals_hf_generate_with_the_same_seed(setup, name):
    """Each utterance alone: the tokens of HF's generate after torch.manual_seed(seed)."""
    model, end_id, waves, prompts = setup
    conf = dict(SAMPLED[name])
    differ = 0
    for w, p in list(zip(waves, prompts))[:5]:
        embeds, mask = spliced(model, w, p)
        for seed in (0, 1, 2):
            opts = DecodeOptions(do_sample=True, seed=seed, max_new_tokens=12, **conf)
            ours = Decoder(model.llm, end_id)(embeds, mask, opts)[0][0]
            torch.manual_seed(seed)
            hf = model.llm.generate(
                inputs_embeds=embeds,
                attention_mask=mask,
                max_new_tokens=12,
                do_sample=True,
                num_beams=conf["beam_size"],
                top_k=conf["top_k"],
                top_p=conf["top_p"],
                temperature=conf.get("temperature", 1.0),
                repetition_penalty=conf.get("repetition_penalty", 1.0),
                length_penalty=1.0,
                eos_token_id=end_id,
                pad_token_id=end_id,
            )
            assert hf[0].tolist() == ours.tokens + ([end_id] if ours.finished else [])
            greedy = DecodeOptions(beam_size=conf["beam_size"], max_new_tokens=12)
            differ += Decoder(model.llm, end_id)(embeds, mask, greedy)[0][0].tokens != ours.tokens
    assert differ > 0  # it did sample


@pytest.mark.parametrize("name", SAMPLED)
def test_sampling_is_seeded_and_batch_invariant(setup, name):
    model, end_id, waves, prompts = setup

    def opts(seed):
        return DecodeOptions(do_sample=True, seed=seed, max_new_tokens=10, **SAMPLED[name])

    a = run(model, end_id, waves, prompts, opts(1))
    b = run(model, end_id, waves, prompts, opts(1))
    c = run(model, end_id, waves, prompts, opts(2))
    assert [h[0].tokens for h in a] == [h[0].tokens for h in b]
    assert [h[0].tokens for h in a] != [h[0].tokens for h in c]
    alone = one_by_one(model, end_id, waves, prompts, opts(1))
    assert [h[0].tokens for h in a] == [h[0].tokens for h in alone]


def test_top_k_one_leaves_nothing_to_chance(setup):
    """Sampling with top-k 1 is greedy search; beam sampling with top-k 1 keeps each beam's
    two best tokens (as HF's does) and draws them all: any seed gives the same n-best."""
    model, end_id, waves, prompts = setup
    greedy = run(model, end_id, waves, prompts, DecodeOptions(max_new_tokens=12))
    for seed in (0, 5):
        opts = DecodeOptions(do_sample=True, top_k=1, seed=seed, max_new_tokens=12)
        assert [h[0].tokens for h in run(model, end_id, waves, prompts, opts)] == [
            h[0].tokens for h in greedy
        ]
    beams = [
        run(
            model,
            end_id,
            waves,
            prompts,
            DecodeOptions(
                beam_size=4, nbest=4, do_sample=True, top_k=1, seed=seed, max_new_tokens=12
            ),
        )
        for seed in (0, 5, 9)
    ]
    tokens = [[[h.tokens for h in n] for n in b] for b in beams]
    assert tokens[0] == tokens[1] == tokens[2]


def test_bad_options():
    with pytest.raises(ValueError):
        DecodeOptions(beam_size=2, nbest=3)
    with pytest.raises(ValueError, match="does not sample"):
        DecodeOptions(beam_size=2, do_sample=True, ctc_weight=0.3)
