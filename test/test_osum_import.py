"""Importing OSUM's released checkpoint: a model written in OSUM's layout (WeNet names,
following ../shared conventions) converts to this project's model with the same logits."""

import copy
import json
import re

import pytest
import torch
import yaml

from helpers import batch_of, make_model, run_train, valid_logits
from osum.bin.import_osum import main as import_main
from osum.inference import Speech2Text
from osum.osum_import import STYLE_LABELS_ZH, CheckpointMismatch, import_osum
from osum.smoke import train_command, write_config
from osum.task import OSUMTask
from osum.tiny import build_qwen2

# OSUM's demo prompts (its decoding prompts), as the reference publishes them
OSUM_PROMPTS = {
    "ASR": "执行语音识别任务，将音频转换为文字。",
    "SGC": "请将音频转录为文本，并在文本结尾处标注<性别>标签，性别为female或male。",
    "SSR": "请将音频内容进行文字转录，并在最后添加<风格>标签，标签共8种：新闻科普、恐怖故事、"
    "童话故事、客服、诗歌散文、有声书、日常口语、其他。",
    "STTC": "首先将语音转录为文字，然后对语音内容进行回复，转录和文字之间使用<开始回答>分割。",
}
ENCODER = [  # this project's openai names -> WeNet's
    (r"conv1\.", "embed.conv.0."),
    (r"conv2\.", "embed.conv.2."),
    (r"blocks\.(\d+)\.attn\.query\.", r"encoders.\1.self_attn.linear_q."),
    (r"blocks\.(\d+)\.attn\.key\.", r"encoders.\1.self_attn.linear_k."),
    (r"blocks\.(\d+)\.attn\.value\.", r"encoders.\1.self_attn.linear_v."),
    (r"blocks\.(\d+)\.attn\.out\.", r"encoders.\1.self_attn.linear_out."),
    (r"blocks\.(\d+)\.mlp\.0\.", r"encoders.\1.feed_forward.w_1."),
    (r"blocks\.(\d+)\.mlp\.2\.", r"encoders.\1.feed_forward.w_2."),
    (r"blocks\.(\d+)\.attn_ln\.", r"encoders.\1.norm1."),
    (r"blocks\.(\d+)\.mlp_ln\.", r"encoders.\1.norm2."),
    (r"ln_post\.", "after_norm."),
]


@pytest.fixture(scope="module")
def reference(tiny_dirs):
    """A model with trained-looking LoRA (B non-zero) and its weights in OSUM's layout."""
    model = make_model(tiny_dirs, trainable=("adapter", "lora"))
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or name.startswith("speech_boundary"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return model


def osum_layout(model, base_layer=True):
    state = torch.nn.Module.state_dict(model)
    out = {}
    for key, value in state.items():
        if key == "encoder.positional_embedding":
            out["encoder.embed.pos_enc.pe"] = value[None]  # WeNet's (1, positions, width)
        elif key.startswith("encoder."):
            rest = key[len("encoder.") :]
            for pattern, repl in ENCODER:
                rest, n = re.subn("^" + pattern, repl, rest)
                if n:
                    break
            out["encoder." + rest] = value
        elif key.startswith("adapter."):
            out[key[len("adapter.") :]] = value
        elif key == "speech_boundary.weight":
            table = torch.randn(4100, value.shape[1])  # OSUM's table: BOS 4097, EOS 4098
            table[4097], table[4098] = value[0], value[1]
            out["speech_token_emded.weight"] = table
        elif key.startswith("llm."):
            name = key[len("llm.") :]
            if not base_layer:
                name = name.replace(".base_layer.", ".")
            out["llama_model." + name] = value
        else:
            raise AssertionError(key)
    out["speaker_head.weight"] = torch.randn(3, 8)  # in the release, unused
    out["ln_speech.weight"] = torch.randn(8)
    # what older transformers saved with the LLM (a buffer, recomputed)
    out["llama_model.base_model.model.model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    return out


def heads(tiny_dirs):
    config = json.load(open(f"{tiny_dirs['whisper']}/config.json"))
    return config["encoder_attention_heads"]


@pytest.mark.parametrize("merge, base_layer", [(False, True), (False, False), (True, True)])
def test_import_gives_the_same_logits(reference, tiny_dirs, tmp_path, merge, base_layer):
    torch.save(osum_layout(reference, base_layer), tmp_path / "infer.pt")
    report = import_osum(
        tmp_path / "infer.pt",
        tiny_dirs["llm"],
        tmp_path / "out",
        merge_lora=merge,
        encoder_heads=heads(tiny_dirs),
    )
    assert sorted(report["ignored"]) == [
        "llama_model.base_model.model.model.layers.0.self_attn.rotary_emb.inv_freq",
        "ln_speech.weight",
        "speaker_head.weight",
    ]
    # base weights equal to the LLM dir's are left to the dir; merged projections are not
    assert report["llm_weights_from_dir"] > 0
    assert report["llm_weights_in_file"] == (2 * 6 if merge else 0)
    model, args = OSUMTask.build_model_from_file(
        tmp_path / "out" / "config.yaml", tmp_path / "out" / "model.pth"
    )
    model.eval()
    assert args.llm_conf["lora"] is not merge
    batch = batch_of()
    want, got = valid_logits(reference, batch), valid_logits(model, batch)
    assert torch.allclose(got, want, atol=1e-4 if merge else 1e-5)


def test_imported_model_decodes_with_osums_prompts_and_labels(reference, tiny_dirs, tmp_path):
    torch.save(osum_layout(reference), tmp_path / "infer.pt")
    import_main(
        [
            "--checkpoint",
            str(tmp_path / "infer.pt"),
            "--llm",
            tiny_dirs["llm"],
            "--out",
            str(tmp_path / "out"),
            "--encoder_heads",
            str(heads(tiny_dirs)),
        ]
    )
    config = yaml.safe_load(open(tmp_path / "out" / "config.yaml", encoding="utf-8"))
    assert config["llm_conf"]["lora_conf"]["r"] == 8
    assert sorted(config["llm_conf"]["lora_conf"]["target_modules"]) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "down_proj"]
    )
    s2t = Speech2Text(tmp_path / "out" / "config.yaml", tmp_path / "out" / "model.pth")
    for task, prompt in OSUM_PROMPTS.items():
        assert s2t.pre.prompt_for(task) == prompt
    assert list(s2t.registry["SSR"].label_sets["style"]) == STYLE_LABELS_ZH
    result = s2t(0.1 * torch.randn(16000).numpy(), task="SER")
    assert result.task == "SER"


def test_bad_checkpoints_are_listed(reference, tiny_dirs, tmp_path):
    good = osum_layout(reference)
    kw = dict(encoder_heads=heads(tiny_dirs))

    def attempt(state, llm=tiny_dirs["llm"]):
        torch.save(state, tmp_path / "infer.pt")
        import_osum(tmp_path / "infer.pt", llm, tmp_path / "out", **kw)

    missing = dict(good)
    del missing["encoder.encoders.0.norm2.bias"]
    with pytest.raises(CheckpointMismatch, match=r"lacks \(1\).*blocks\.0\.mlp_ln\.bias"):
        attempt(missing)
    shaped = dict(good)
    shaped["speech_transformer.after_norm.weight"] = torch.ones(3)
    with pytest.raises(CheckpointMismatch, match=r"shapes that differ.*after_norm\.weight"):
        attempt(shaped)
    unknown = dict(good, **{"encoder.mystery.weight": torch.ones(2), "extra.bias": torch.ones(1)})
    with pytest.raises(CheckpointMismatch, match=r"unknown checkpoint keys \(2\)"):
        attempt(unknown)
    short = dict(good, **{"speech_token_emded.weight": torch.ones(100, 64)})
    with pytest.raises(CheckpointMismatch, match="rows 4097 and 4098"):
        attempt(short)
    with pytest.raises(CheckpointMismatch, match="not an OSUM checkpoint"):
        attempt({"something.else": torch.ones(1)})
    wide = build_qwen2(str(tmp_path / "wide_llm"), hidden_size=96)
    with pytest.raises(CheckpointMismatch, match="hidden_size 96: wrong LLM dir"):
        attempt(good, llm=str(wide))
    with pytest.raises(FileNotFoundError, match="no config.json"):
        attempt(good, llm=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="infer.pt"):
        import_osum(tmp_path / "nope.pt", tiny_dirs["llm"], tmp_path / "out")


@pytest.mark.slow
def test_training_starts_from_the_imported_model(reference, tiny_dirs, speech_data, tmp_path):
    """--init_param (a recipe's --init_model) with the imported files: the first epoch
    starts from OSUM's weights, read through the safe loader."""
    torch.save(osum_layout(reference), tmp_path / "infer.pt")
    import_osum(
        tmp_path / "infer.pt",
        tiny_dirs["llm"],
        tmp_path / "imported",
        encoder_heads=heads(tiny_dirs),
    )
    config = yaml.safe_load(open(tmp_path / "imported" / "config.yaml", encoding="utf-8"))
    config.update(batch_type="sorted", batch_size=4, max_epoch=1, num_workers=0, seed=0)
    config["preprocessor_conf"]["prompt_languages"] = ["en"]
    write_config(tmp_path / "ft.yaml", config)
    cmd = train_command(
        tmp_path / "ft.yaml",
        speech_data,
        tmp_path / "exp",
        "--init_param",
        str(tmp_path / "imported" / "model.pth"),
    )
    run_train(cmd, cwd=tmp_path)
    state = torch.load(tmp_path / "exp" / "1epoch.pth", weights_only=True)
    imported = torch.load(tmp_path / "imported" / "model.pth", weights_only=True)
    key = "encoder.blocks.0.attn.query.weight"  # frozen here: OSUM's weights, unchanged
    assert torch.equal(state[key], imported[key])
    lora = next(k for k in state if "lora_B" in k)  # trained from OSUM's LoRA
    assert not torch.equal(state[lora], imported[lora])
    assert torch.allclose(state[lora], imported[lora], atol=0.05)


def test_llm_weights_that_differ_from_the_dir_are_kept(reference, tiny_dirs, tmp_path):
    changed = copy.deepcopy(reference)
    with torch.no_grad():
        changed.llm.get_base_model().model.norm.weight.mul_(1.5)
    torch.save(osum_layout(changed), tmp_path / "infer.pt")
    report = import_osum(
        tmp_path / "infer.pt", tiny_dirs["llm"], tmp_path / "out", encoder_heads=heads(tiny_dirs)
    )
    assert report["llm_weights_in_file"] == 1
    assert "llm.base_model.model.model.norm.weight" in torch.load(
        tmp_path / "out" / "model.pth", weights_only=True
    )
    model, _ = OSUMTask.build_model_from_file(
        tmp_path / "out" / "config.yaml", tmp_path / "out" / "model.pth"
    )
    batch = batch_of()
    want, got = valid_logits(changed, batch), valid_logits(model.eval(), batch)
    assert torch.allclose(got, want, atol=1e-5)
