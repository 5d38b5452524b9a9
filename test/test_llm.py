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
