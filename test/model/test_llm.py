"""The LLM wrapper: bf16, gradient checkpointing, LoRA defaults, and bad dirs."""

import pytest
import torch

from helpers import batch_of, make_model
from osum.model.llm import OSUM_LORA, build_llm, lora_parameter_names


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

    from osum.decode.search import DecodeOptions, Decoder

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


@pytest.mark.slow
def test_a_sentencepiece_only_llm_dir_trains_and_decodes(tiny_dirs, speech_data, tmp_path):
    """An LLM dir whose tokenizer is only a sentencepiece model (tokenizer.model, as Llama 2,
    Vicuna and Gemma ship): read through sentencepiece, its eos_token ends the targets,
    and the model trains through ESPnet's trainer and decodes."""
    import numpy as np
    import sentencepiece

    from helpers import run_train
    from osum.asrx.preprocess import OSUMPreprocessor
    from osum.decode.speech2text import Speech2Text
    from osum.dev.tiny_models import build_llama
    from osum.dev.tiny_setup import SENTENCES, tiny_config, train_command, write_config

    llama = build_llama(str(tmp_path / "llama"), corpus=[t for _, t in SENTENCES])
    assert not (llama / "tokenizer.json").exists()
    sp = sentencepiece.SentencePieceProcessor(model_file=str(llama / "tokenizer.model"))
    pre = OSUMPreprocessor(train=True, tokenizer=str(llama), prompt="Transcribe the speech.")
    assert pre.tokenizer.eos_token == "</s>" and pre.end_id == sp.eos_id()
    text = "turn on the light"
    assert pre.encode(text) == sp.encode(text)  # the sentencepiece model's own pieces
    assert pre.tokenizer.decode(pre.encode("今天天气很好")) == "今天天气很好"  # byte fallback
    sample = pre("u1", {"speech": np.zeros(1600, np.float32), "text": text})
    assert sample["text"][-1] == sp.eos_id()

    cfg = tiny_config(dict(tiny_dirs, llm=str(llama)), max_epoch=2, optim_conf=dict(lr=0.005))
    config = write_config(tmp_path / "train.yaml", cfg)
    exp = tmp_path / "exp"
    run_train(train_command(config, speech_data, exp), cwd=tmp_path)
    e1, e2 = (torch.load(exp / f"{n}epoch.pth", weights_only=True) for n in (1, 2))
    lora = next(k for k in e2 if "lora_B" in k)
    assert not torch.equal(e1[lora], e2[lora])  # it trained
    s2t = Speech2Text(exp / "config.yaml", exp / "2epoch.pth", max_new_tokens=6)
    assert s2t.pre.end_id == sp.eos_id()
    wave = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    result = s2t(wave, task="ASR")
    tokens = s2t.tokenizer.encode(result.text, add_special_tokens=False)
    assert result.text == sp.decode(tokens)
