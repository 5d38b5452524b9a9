"""The LLM wrapper: bf16, gradient checkpointing, LoRA defaults, and bad dirs."""

import pytest
import torch

from helpers import batch_of, make_model
from osum.llm import OSUM_LORA, build_llm, lora_parameter_names


def test_osum_lora_defaults(tiny_dirs):
    llm = build_llm(tiny_dirs["llm"])
    cfg = llm.peft_config["default"]
    assert (cfg.r, cfg.lora_alpha, cfg.lora_dropout) == (8, 32, 0.1)
    assert set(cfg.target_modules) == set(OSUM_LORA["target_modules"])
    names = lora_parameter_names(llm)
    assert any("q_proj.lora_A" in n for n in names) and not any("up_proj" in n for n in names)


def test_bf16_llm_trains(tiny_dirs):
    model = make_model(tiny_dirs, trainable=("adapter", "lora"), llm_dtype="bfloat16").train()
    base = [p for n, p in model.llm.named_parameters() if "lora_" not in n]
    assert all(p.dtype == torch.bfloat16 for p in base)
    loss = model(**batch_of())[0]
    assert torch.isfinite(loss) and loss.dtype == torch.float32
    loss.backward()
    assert model.adapter.speech_llama_proj.weight.grad is not None


def test_gradient_checkpointing_gives_the_same_loss_and_gradients(tiny_dirs):
    grads = []
    for gc in (False, True):
        model = make_model(
            tiny_dirs, trainable=("adapter", "encoder", "lora"), gradient_checkpointing=gc
        ).train()
        loss = model(**batch_of())[0]
        loss.backward()
        grads.append(
            (
                loss.detach(),
                {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None},
            )
        )
    (l0, g0), (l1, g1) = grads
    assert torch.allclose(l0, l1, atol=1e-6) and g0.keys() == g1.keys()
    for n in g0:
        assert torch.allclose(g0[n], g1[n], atol=1e-5), n


def test_bad_llm_dirs(tiny_dirs, tmp_path):
    with pytest.raises(FileNotFoundError, match="LLM dir .*nothing does not exist"):
        build_llm(str(tmp_path / "nothing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        build_llm(str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="dtype 'int4' unknown"):
        build_llm(tiny_dirs["llm"], dtype="int4")


def test_model_dtype_cast_keeps_the_llm_dtype(tiny_dirs):
    model = make_model(tiny_dirs, trainable=("adapter", "lora"), llm_dtype="bfloat16")
    # the call ESPnet makes after build_model: model.to(dtype=train_dtype, device=...)
    model.to(dtype=torch.float32, device="cpu")
    base = [p for n, p in model.llm.named_parameters() if "lora_" not in n]
    assert all(p.dtype == torch.bfloat16 for p in base)
    assert model.adapter.speech_llama_proj.weight.dtype == torch.float32
    model.to(torch.float64)
    assert all(p.dtype == torch.bfloat16 for p in base)
    assert model.speech_boundary.weight.dtype == torch.float64


def test_another_causal_lm_family_splices_and_decodes(tiny_dirs, tmp_path):
    """A Llama dir works as the LLM: training loss, and greedy decoding equal to HF's."""
    import shutil

    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from osum.decode import DecodeOptions, Decoder

    tok = AutoTokenizer.from_pretrained(tiny_dirs["llm"])
    end = tok.convert_tokens_to_ids("<|endoftext|>")
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=end,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(tmp_path / "llama")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(f"{tiny_dirs['llm']}/{f}", tmp_path / "llama" / f)
    model = make_model(dict(tiny_dirs, llm=str(tmp_path / "llama")), trainable=("adapter", "lora"))
    assert type(model.llm.get_base_model()).__name__ == "LlamaForCausalLM"
    batch = batch_of()
    loss = model.train()(**batch)[0]
    assert torch.isfinite(loss)
    loss.backward()
    model.eval()
    with torch.no_grad():
        emb, lens = model.encode_speech(batch["speech"][:1], batch["speech_lengths"][:1])
        embeds, mask, _ = model.build_inputs(
            emb, lens, batch["prompt"][:1, :3], batch["prompt_lengths"][:1], pad_side="left"
        )
        ours = Decoder(model.llm, end)(embeds, mask, DecodeOptions(max_new_tokens=8))[0][0]
        hf = model.llm.generate(
            inputs_embeds=embeds,
            attention_mask=mask,
            max_new_tokens=8,
            do_sample=False,
            eos_token_id=end,
            pad_token_id=end,
        )
    assert hf[0].tolist() == ours.tokens + ([end] if ours.finished else [])
