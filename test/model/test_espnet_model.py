"""OSUMModel: splicing, loss masking, padding invariance, freezing and checkpoint policy."""

import argparse

import pytest
import torch

from helpers import batch_of, make_model, select, valid_logits
from osum.model.splice import IGNORE_ID, position_ids, splice
from osum.train.task import OSUMTask


def test_splice_packs_rows_and_positions_follow_mask():
    h = 2
    a = torch.arange(2 * 3 * h, dtype=torch.float).view(2, 3, h)
    b = 100 + torch.arange(2 * 2 * h, dtype=torch.float).view(2, 2, h)
    lab = torch.tensor([[7, 8], [9, -1]])
    for side in ("right", "left"):
        emb, mask, labels = splice(
            [(a, torch.tensor([3, 1])), (b, torch.tensor([2, 1]))], [None, lab], pad_side=side
        )
        row1 = emb[1][mask[1].bool()]
        assert torch.equal(row1, torch.stack([a[1, 0], b[1, 0]]))
        assert labels[0].tolist() == [IGNORE_ID] * 3 + [7, 8]
        assert labels[1][mask[1].bool()].tolist() == [IGNORE_ID, 9]
        assert position_ids(mask)[1][mask[1].bool()].tolist() == [0, 1]
    assert mask[1].tolist() == [0, 0, 0, 1, 1]  # left padding


def test_loss_matches_hf_loss_on_the_spliced_input(tiny_dirs):
    model = make_model(tiny_dirs)
    batch = select(batch_of(), 0)
    with torch.no_grad():
        loss, stats, _ = model(**batch)
        emb, lens = model.encode_speech(batch["speech"], batch["speech_lengths"])
        embeds, mask, labels = model.build_inputs(
            emb,
            lens,
            batch["prompt"],
            batch["prompt_lengths"],
            batch["text"],
            batch["text_lengths"],
        )
        hf = model.llm(inputs_embeds=embeds, attention_mask=mask, labels=labels).loss
    assert torch.allclose(loss, hf, atol=1e-5)
    n_target = int((labels != IGNORE_ID).sum())
    assert n_target == int(batch["text_lengths"][0])


def test_only_target_tokens_count(tiny_dirs):
    model = make_model(tiny_dirs)
    batch = batch_of()
    with torch.no_grad():
        base = model(**batch)[0]
        changed = dict(batch, text=batch["text"].clone())
        changed["text"][0, -1 if batch["text_lengths"][0] == changed["text"].shape[1] else 0] += 1
        assert not torch.allclose(model(**changed)[0], base)
        # labels are only ever taken from the target: prompt/speech positions are -100
        emb, lens = model.encode_speech(batch["speech"], batch["speech_lengths"])
        _, mask, labels = model.build_inputs(
            emb,
            lens,
            batch["prompt"],
            batch["prompt_lengths"],
            batch["text"],
            batch["text_lengths"],
        )
        for i in range(3):
            row = labels[i][mask[i].bool()]
            n_t = int(batch["text_lengths"][i])
            assert (row[:-n_t] == IGNORE_ID).all() and (row[-n_t:] != IGNORE_ID).all()


def test_padding_does_not_change_the_loss(tiny_dirs):
    model = make_model(tiny_dirs)
    batch = batch_of()
    with torch.no_grad():
        _, mask, _ = model.build_inputs(
            *model.encode_speech(batch["speech"], batch["speech_lengths"]),
            batch["prompt"],
            batch["prompt_lengths"],
            batch["text"],
            batch["text_lengths"],
        )
        emb_b, lens_b = model.encode_speech(batch["speech"], batch["speech_lengths"])
        for i in range(3):
            one = select(batch, i)
            emb_1, lens_1 = model.encode_speech(one["speech"], one["speech_lengths"])
            assert int(lens_1[0]) == int(lens_b[i])
            assert (emb_b[i, : int(lens_1[0])] - emb_1[0]).abs().max() < 1e-4
        # token-weighted mean over rows equals the batch loss
        total, count = 0.0, 0
        for i in range(3):
            one = select(batch, i)
            n = int(one["text_lengths"][0])
            total += model(**one)[0] * n
            count += n
        assert torch.allclose(model(**batch)[0], total / count, atol=1e-5)


@pytest.mark.parametrize(
    "parts", [("adapter",), ("adapter", "encoder"), ("adapter", "encoder", "lora"), ("llm",)]
)
def test_frozen_parts_get_no_gradient_and_no_optimizer_state(tiny_dirs, parts):
    model = make_model(tiny_dirs, trainable=parts).train()
    args = argparse.Namespace(optim="adamw", optim_conf=dict(lr=1e-3), sharded_ddp=False)
    (optim,) = OSUMTask.build_optimizers(args, model)
    loss = model(**batch_of())[0]
    loss.backward()
    optim.step()
    in_optim = {id(p) for g in optim.param_groups for p in g["params"]}
    for name, p in model.named_parameters():
        trains = model._part_of(name) in parts
        assert p.requires_grad == trains, name
        assert (p.grad is not None) == trains, name
        assert (id(p) in in_optim) == trains and ((p in optim.state) == trains), name
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_checkpoint_holds_trainable_and_non_pretrained_weights(tiny_dirs):
    model = make_model(tiny_dirs, trainable=("adapter", "lora"))
    state = model.state_dict()
    assert any("lora_A" in k for k in state)
    assert "speech_boundary.weight" in state and "adapter.speech_llama_proj.weight" in state
    assert not any(k.startswith("encoder.") for k in state)  # frozen, from the Whisper dir
    assert not any(k.startswith("llm.") and "lora_" not in k for k in state)
    # a fresh model (same dirs) loads it back and computes the same loss
    with torch.no_grad():
        for p in model.adapter.parameters():
            p.add_(0.01)
        ref = model(**batch_of())[0]
    other = make_model(tiny_dirs, trainable=("adapter", "lora"))
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.allclose(other(**batch_of())[0], ref)
    with pytest.raises(RuntimeError, match="missing"):
        other.load_state_dict({k: v for k, v in state.items() if not k.startswith("adapter.")})
    full = make_model(tiny_dirs, trainable=("adapter",), save_base_weights=True).state_dict()
    assert any(k.startswith("encoder.") for k in full) and any(
        k.endswith("embed_tokens.weight") for k in full
    )


def test_trained_encoder_is_saved(tiny_dirs):
    state = make_model(tiny_dirs, trainable=("adapter", "encoder")).state_dict()
    assert "encoder.blocks.0.attn.query.weight" in state
    assert "encoder.positional_embedding" not in state  # a buffer from the dir


def test_unknown_part_and_missing_lora_are_errors(tiny_dirs):
    with pytest.raises(ValueError, match="known"):
        make_model(tiny_dirs, trainable=("decoder",))
    with pytest.raises(ValueError, match="no LoRA"):
        make_model(tiny_dirs, trainable=("lora",), lora=False)


def test_weights_trained_earlier_stay_in_checkpoints_when_frozen(tiny_dirs):
    phase2 = make_model(tiny_dirs, trainable=("adapter", "encoder", "lora"))
    with torch.no_grad():
        phase2.encoder.blocks[0].attn.query.weight.add_(1.0)
        for n, p in phase2.llm.named_parameters():
            if "lora_B" in n:
                p.add_(0.5)
    state = phase2.state_dict()
    phase3 = make_model(tiny_dirs, trainable=("adapter",))  # encoder and LoRA frozen now
    assert any("lora_B" in k for k in phase3.state_dict())  # LoRA never comes from a dir
    assert "encoder.blocks.0.attn.query.weight" not in phase3.state_dict()
    phase3.load_state_dict(state)  # as --init_param does
    saved = phase3.state_dict()
    key = "encoder.blocks.0.attn.query.weight"
    assert key in saved and torch.equal(saved[key], state[key])
    assert "encoder.positional_embedding" not in saved  # untouched base weights stay out


def test_frozen_base_weights_are_not_broadcast_by_ddp(tiny_dirs):
    model = make_model(tiny_dirs, trainable=("adapter", "lora"))
    ignored = set(model._ddp_params_and_buffers_to_ignore)
    assert ignored and all(
        not model.get_parameter(n).requires_grad
        for n in ignored
        if n in dict(model.named_parameters())
    )
    assert not any("lora_" in n or n.startswith("adapter.") for n in ignored)


def test_ctc_loss_is_espnet_ctc_per_token_mixed_with_the_lm_loss(tiny_dirs):
    batch = batch_of()
    plain = make_model(tiny_dirs, trainable=("adapter", "encoder"))
    model = make_model(tiny_dirs, trainable=("adapter", "encoder"), ctc_weight=0.3)
    assert model.ctc.ctc_lo.in_features == model.encoder.output_size()
    ctc_text = torch.tensor([[5, 6, 7], [8, -1, -1], [-1, -1, -1]])
    ctc_lengths = torch.tensor([3, 1, 0])  # the last utterance has no transcript
    loss, stats, _ = model(**batch, ctc_text=ctc_text, ctc_text_lengths=ctc_lengths)
    assert torch.allclose(stats["loss_lm"], plain(**batch)[0])
    enc, enc_lengths = model.run_encoder(batch["speech"], batch["speech_lengths"])
    logp = model.ctc.ctc_lo(enc).log_softmax(-1).transpose(0, 1)
    targets = torch.tensor([6, 7, 8, 9])  # token t is output t + 1; 0 is the blank
    ref = (
        torch.nn.functional.ctc_loss(
            logp, targets, enc_lengths, ctc_lengths, reduction="sum", zero_infinity=True
        )
        / 4
    )
    assert torch.allclose(stats["loss_ctc"], ref, atol=1e-5)
    assert torch.allclose(loss, 0.3 * ref + 0.7 * stats["loss_lm"], atol=1e-5)
    assert model._part_of("ctc.ctc_lo.weight") == "encoder"
    model.train()
    model(**batch, ctc_text=ctc_text, ctc_text_lengths=ctc_lengths)[0].backward()
    assert model.ctc.ctc_lo.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="needs ctc_text"):
        model(**batch)
    with pytest.raises(ValueError, match="ctc_weight must be in"):
        make_model(tiny_dirs, ctc_weight=1.5)


def test_ctc_only_trains_the_encoder_alone(tiny_dirs):
    batch = batch_of()
    ctc = dict(
        ctc_text=torch.tensor([[5, 6], [7, 8], [9, -1]]), ctc_text_lengths=torch.tensor([2, 2, 1])
    )
    model = make_model(tiny_dirs, trainable=("encoder",), ctc_weight=1.0).train()
    loss, stats, _ = model(**batch, **ctc)
    assert set(stats) == {"loss", "loss_ctc"} and torch.allclose(loss, stats["loss_ctc"])
    loss.backward()
    grads = {model._part_of(n) for n, p in model.named_parameters() if p.grad is not None}
    assert grads == {"encoder"}
    with pytest.raises(ValueError, match="trainable must be \\[encoder\\]"):
        make_model(tiny_dirs, trainable=("encoder", "adapter"), ctc_weight=1.0)


def test_token_weights_weight_the_mean_over_target_tokens(tiny_dirs):
    model = make_model(tiny_dirs)
    batch = batch_of()
    with torch.no_grad():
        plain = model(**batch)[0]
        ones = torch.zeros(3, 6)  # ESPnet pads float arrays with 0
        for i, n in enumerate(batch["text_lengths"].tolist()):
            ones[i, :n] = 1.0
        assert torch.allclose(model(**batch, text_weight=ones)[0], plain, atol=1e-6)
        weight = ones.clone()
        weight[0, 1], weight[2, 5] = 5.0, 3.0
        # the weighted mean of the per-token losses of the rows, computed row by row
        total, norm = 0.0, 0.0
        for i in range(3):
            one = select(batch, i)
            n = int(one["text_lengths"][0])
            for j in range(n):
                w = float(weight[i, j])
                # one token's loss: the difference of the summed losses of the prefixes
                full = model(
                    **dict(one, text=one["text"][:, : j + 1], text_lengths=torch.tensor([j + 1]))
                )[0]
                if j:
                    part = model(
                        **dict(one, text=one["text"][:, :j], text_lengths=torch.tensor([j]))
                    )[0]
                    token = full * (j + 1) - part * j
                else:
                    token = full
                total += w * token
                norm += w
        assert torch.allclose(model(**batch, text_weight=weight)[0], total / norm, atol=1e-4)
        # acc_x: the accuracy over the tokens weighted otherwise than their row's end
        # token; a weight on a whole row (a task weight) marks none of them
        assert model(**batch, text_weight=ones)[1]["acc_x"] is None
        assert model(**batch, text_weight=2 * ones)[1]["acc_x"] is None
        labels = ones.clone()
        labels[0] *= 2.0  # row 0 has a task weight of 2: its end token's
        labels[0, 1], labels[2, 3] = 10.0, 3.0
        hits = []
        for i, j in [(0, 1), (2, 3)]:
            one = select(batch, i)
            n = int(one["text_lengths"][0])
            pred = valid_logits(model, one)[-(n + 1) + j].argmax()
            hits.append(float(pred == one["text"][0, j]))
        assert float(model(**batch, text_weight=labels)[1]["acc_x"]) == sum(hits) / 2
        with pytest.raises(ValueError, match="one token weight per target"):
            model(**batch, text_weight=weight[:, :2])
