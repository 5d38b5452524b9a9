"""Importing OSUM's released checkpoint: a model written in OSUM's layout (WeNet names,
following ../shared conventions) converts to this project's model with the same logits."""

import collections
import json
import math
import re

import numpy as np
import pytest
import torch
import yaml

from helpers import batch_of, make_model, run_train, valid_logits
from osum.bin.import_osum import main as import_main
from osum.convert.import_osum import (
    DEEPSPEED_STATES as STATES,
)
from osum.convert.import_osum import (
    STYLE_LABELS_ZH,
    CheckpointMismatch,
    import_osum,
)
from osum.decode.search import greedy_tokens
from osum.decode.speech2text import Speech2Text
from osum.dev.tiny_models import build_qwen2
from osum.dev.tiny_setup import train_command, write_config
from osum.model.encoder import sinusoids
from osum.model.llm import load_tokenizer
from osum.train.task import OSUMTask

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


END = 0  # <|endoftext|> of the tiny tokenizer (any id ends both models' decoding alike)
SPEECH_TOKENS = 4097  # the reference's speech_token_num: BOS row 4097, EOS row 4098
CHANGED = ("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight")  # vs the dir


def trained_looking(model, seed=3):
    """LoRA B non-zero, the speech boundaries set, and some LLM weights (the aliased ones
    among them) changed away from the LLM dir's."""
    g = torch.Generator().manual_seed(seed)
    base = model.llm.get_base_model()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name or name.startswith("speech_boundary"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))
        for name in CHANGED:
            p = base.get_parameter(name)
            p.add_(0.05 * torch.randn(p.shape, generator=g).to(p.dtype))
    return model


@pytest.fixture(scope="module")
def reference(tiny_dirs):
    """A model with trained-looking LoRA and LLM weights that differ from the dir's."""
    return trained_looking(make_model(tiny_dirs, trainable=("adapter", "lora")))


def wenet_table(length, width):
    """WeNet's PositionalEncoding table (its formula; computed in float64 here, which
    WeNet computes in float32: the importer must allow for the difference)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    div = torch.exp(torch.arange(0, width, 2, dtype=torch.float64) * -(math.log(10000.0) / width))
    pe = torch.zeros(length, width, dtype=torch.float64)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * div), torch.cos(pos * div)
    return pe.float()


def osum_layout(model, base_layer=True):
    """``model``'s weights as the reference model's ``state_dict()`` holds them: every
    attribute of the reference that lands in it (its encoder with WeNet's names and saved
    sinusoid table, ln_speech, the adapter's three parts with the adapter Transformer's
    saved table, the LLM, the top-level aliases of the LLM's embedding and output layer,
    speech_token_emded and speaker_head), nothing else."""
    state = torch.nn.Module.state_dict(model)
    width = model.encoder.n_state
    hidden = model.speech_boundary.weight.shape[1]
    out = {}
    for key, value in state.items():
        if key == "encoder.positional_embedding":
            # WeNet's (1, positions, width), from openai's fp16 table by WeNet's conversion
            out["encoder.embed.pos_enc.pe"] = value.half().float()[None]
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
            table = torch.randn(SPEECH_TOKENS + 2, hidden)
            table[SPEECH_TOKENS], table[SPEECH_TOKENS + 1] = value[0], value[1]
            out["speech_token_emded.weight"] = table
        elif key.startswith("llm."):
            name = key[len("llm.") :]
            if not base_layer:
                name = name.replace(".base_layer.", ".")
            out["llama_model." + name] = value
        else:
            raise AssertionError(key)
    out["speech_transformer.embed.pos_enc.pe"] = wenet_table(5000, width)[None]
    # the reference's self.embed_tokens and self.lm_head: the LLM's own tensors
    out["embed_tokens.weight"] = out["llama_model.base_model.model.model.embed_tokens.weight"]
    out["lm_head.weight"] = out["llama_model.base_model.model.lm_head.weight"]
    out["ln_speech.weight"], out["ln_speech.bias"] = torch.randn(width), torch.randn(width)
    out["speaker_head.weight"] = torch.randn(SPEECH_TOKENS, hidden)
    out["speaker_head.bias"] = torch.randn(SPEECH_TOKENS)
    return out


UNUSED = ["ln_speech.bias", "ln_speech.weight", "speaker_head.bias", "speaker_head.weight"]
CHECKED = [
    "embed_tokens.weight",
    "encoder.embed.pos_enc.pe",
    "lm_head.weight",
    "speech_transformer.embed.pos_enc.pe",
]


def decoded(model, end_id, n=8):
    """Greedy tokens of a batch (left-padded, as decoding runs it)."""
    batch = batch_of()
    return greedy_tokens(
        model,
        batch["speech"],
        batch["speech_lengths"],
        batch["prompt"],
        batch["prompt_lengths"],
        end_id=end_id,
        max_new_tokens=n,
    )


def assert_same_model(imported_dir, reference, atol=1e-5):
    model, args = OSUMTask.build_model_from_file(
        imported_dir / "config.yaml", imported_dir / "model.pth"
    )
    model.eval()
    batch = batch_of()
    want, got = valid_logits(reference, batch), valid_logits(model, batch)
    assert torch.allclose(got.float(), want.float(), atol=atol)
    assert decoded(model, END) == decoded(reference, END)
    return model, args


def heads(tiny_dirs):
    config = json.load(open(f"{tiny_dirs['whisper']}/config.json"))
    return config["encoder_attention_heads"]


def test_the_fixture_is_the_reference_models_key_set(reference):
    """What the reference model's state_dict() holds (OSUM_REFERENCE.md), and no more."""
    keys = set(osum_layout(reference))
    prefixes = {k.split(".")[0] for k in keys}
    assert prefixes == {
        "encoder",
        "ln_speech",
        "down_sample_2",
        "speech_transformer",
        "speech_llama_proj",
        "llama_model",
        "embed_tokens",
        "lm_head",
        "speech_token_emded",
        "speaker_head",
    }
    assert set(CHECKED) | set(UNUSED) <= keys
    assert any(".base_layer." in k for k in keys) and any(".lora_A.default." in k for k in keys)


@pytest.mark.parametrize("merge, base_layer", [(False, True), (False, False), (True, True)])
def test_import_gives_the_same_logits_and_tokens(reference, tiny_dirs, tmp_path, merge, base_layer):
    torch.save(osum_layout(reference, base_layer), tmp_path / "infer.pt")
    report = import_osum(
        tmp_path / "infer.pt",
        tiny_dirs["llm"],
        tmp_path / "out",
        merge_lora=merge,
        encoder_heads=heads(tiny_dirs),
    )
    assert report["form"].startswith("state dict")
    assert sorted(report["ignored"]) == UNUSED
    assert sorted(report["checked"]) == CHECKED
    assert "its alias" in report["checked"]["lm_head.weight"]
    assert (
        "WeNet's sinusoid (1, 5000, 64)" in report["checked"]["speech_transformer.embed.pos_enc.pe"]
    )
    # base weights equal to the LLM dir's are left to the dir; changed and merged ones not
    assert report["llm_weights_from_dir"] > 0
    assert report["llm_weights_in_file"] == len(CHANGED) + (2 * 6 if merge else 0)
    kept = torch.load(tmp_path / "out" / "model.pth", weights_only=True)
    prefix = "llm." if merge else "llm.base_model.model."
    assert all(prefix + name in kept for name in CHANGED)
    model, args = assert_same_model(tmp_path / "out", reference, atol=1e-4 if merge else 1e-5)
    assert args.llm_conf["lora"] is not merge


def test_older_transformers_rotary_buffers_are_ignored(reference, tiny_dirs, tmp_path):
    state = osum_layout(reference)
    key = "llama_model.base_model.model.model.layers.0.self_attn.rotary_emb.inv_freq"
    state[key] = torch.ones(8)
    torch.save(state, tmp_path / "infer.pt")
    report = import_osum(
        tmp_path / "infer.pt", tiny_dirs["llm"], tmp_path / "out", encoder_heads=heads(tiny_dirs)
    )
    assert sorted(report["ignored"]) == sorted(UNUSED + [key])


def test_aliases_and_tables_are_checked(reference, tiny_dirs, tmp_path):
    good = osum_layout(reference)

    def attempt(state):
        torch.save(state, tmp_path / "infer.pt")
        return import_osum(
            tmp_path / "infer.pt",
            tiny_dirs["llm"],
            tmp_path / "out",
            encoder_heads=heads(tiny_dirs),
        )

    other = dict(good, **{"lm_head.weight": good["lm_head.weight"] + 1e-3})
    with pytest.raises(
        CheckpointMismatch,
        match=r"lm_head\.weight differs from llama_model\.base_model\.model\.lm_head\.weight",
    ):
        attempt(other)
    orphan = {k: v for k, v in good.items() if not k.endswith("model.embed_tokens.weight")}
    orphan["embed_tokens.weight"] = good["embed_tokens.weight"]
    with pytest.raises(CheckpointMismatch, match=r"embed_tokens\.weight: .*no llama_model"):
        attempt(orphan)
    key = "speech_transformer.embed.pos_enc.pe"
    whisper_style = dict(good, **{key: sinusoids(5000, 64)[None]})  # halves, not interleaved
    with pytest.raises(
        CheckpointMismatch, match=r"pos_enc\.pe \(1, 5000, 64\): differs from WeNet"
    ):
        attempt(whisper_style)
    scaled = dict(good, **{"encoder.embed.pos_enc.pe": good["encoder.embed.pos_enc.pe"] * 1.01})
    with pytest.raises(CheckpointMismatch, match="differs from Whisper's sinusoid"):
        attempt(scaled)
    # stored in bf16 or fp16, or rounded to them and saved as float32 (a bf16 DeepSpeed
    # engine's buffers, openai's fp16 Whisper table): within rounding, accepted
    for dtype in (torch.bfloat16, torch.float16):
        for back in (dtype, torch.float32):
            rounded = dict(good, **{k: good[k].to(dtype).to(back) for k in TABLE_KEYS})
            assert sorted(attempt(rounded)["checked"]) == CHECKED
    # without the tables (an implementation that does not save them), the same model
    bare = {k: v for k, v in good.items() if k not in TABLE_KEYS}
    attempt(bare)
    assert_same_model(tmp_path / "out", reference)


TABLE_KEYS = ("encoder.embed.pos_enc.pe", "speech_transformer.embed.pos_enc.pe")


@pytest.fixture(scope="module")
def bf16_reference(tiny_dirs, tmp_path_factory):
    """OSUM as its training leaves it: a bf16 LLM dir, the LLM run in bf16."""
    from transformers import AutoModelForCausalLM

    d = tmp_path_factory.mktemp("bf16") / "qwen2"
    llm = AutoModelForCausalLM.from_pretrained(tiny_dirs["llm"], dtype=torch.bfloat16)
    llm.save_pretrained(d)
    load_tokenizer(tiny_dirs["llm"]).save_pretrained(d)
    dirs = dict(tiny_dirs, llm=str(d))
    model = make_model(dirs, trainable=("adapter", "lora"), llm_dtype="bfloat16")
    return trained_looking(model), dirs


def deepspeed_model_states(module, trainable):
    """DeepSpeed's mp_rank_00_model_states.pt as its engine saves it under ZeRO (the model
    under 'module', DeepSpeed's bookkeeping beside it, the trainer's client state)."""
    return dict(
        module=module,
        buffer_names=[k for k in module if k.endswith(".pe")],
        optimizer=None,
        param_shapes=[collections.OrderedDict((k, module[k].shape) for k in trainable)],
        frozen_param_shapes=None,
        shared_params={},
        frozen_param_fragments=None,
        lr_scheduler=None,
        data_sampler=None,
        random_ltd=None,
        sparse_tensor_module_names=set(),
        skipped_steps=0,
        global_steps=1200,
        global_samples=38400,
        dp_world_size=8,
        mp_world_size=1,
        ds_config={"train_micro_batch_size_per_gpu": 1, "bf16": {"enabled": True}},
        ds_version="0.16.4",
        epoch=2,
        step=1200,
        tag="epoch_2",
    )


FORMS = [
    "ddp",
    "ddp_legacy_format",
    "deepspeed_fp32",
    "deepspeed_states_file",
    "deepspeed_states_dir",
]


@pytest.mark.parametrize("form", FORMS)
def test_checkpoints_of_the_references_training_import(bf16_reference, tmp_path, form):
    """The three forms the reference's own training writes (OSUM_REFERENCE.md): each
    imports with the LLM in bf16, its frozen base left to the dir, the same tokens."""
    model, dirs = bf16_reference
    state = osum_layout(model)
    assert state["llama_model.base_model.model.lm_head.weight"].dtype == torch.bfloat16
    if form.startswith("ddp"):
        path = tmp_path / "epoch_2.pt"
        torch.save(state, path, _use_new_zipfile_serialization=form == "ddp")
    elif form == "deepspeed_fp32":  # convert_zero_checkpoint_to_fp32_state_dict's output
        path = tmp_path / "epoch_2.pt"
        # the bf16 engine held its buffers in bf16 too: the tables come back rounded
        state = dict(state, **{k: state[k].bfloat16() for k in TABLE_KEYS})
        torch.save({k: v.float() for k, v in state.items()}, path)
    else:
        (tmp_path / "epoch_2").mkdir()
        trainable = [k for k in state if "lora_" in k or k.startswith("speech_")]
        torch.save(deepspeed_model_states(state, trainable), tmp_path / "epoch_2" / STATES)
        path = tmp_path / "epoch_2" / (STATES if form == "deepspeed_states_file" else "")
    (tmp_path / "epoch_2.yaml").write_text("epoch: 2\n")  # training info: not needed
    report = import_osum(path, dirs["llm"], tmp_path / "out", encoder_heads=heads(dirs))
    assert report["form"].startswith("DeepSpeed" if "states" in form else "state dict")
    assert report["form"].endswith("all float32") is (form == "deepspeed_fp32")
    assert report["llm_dtype"].startswith("bfloat16")
    assert sorted(report["checked"]) == CHECKED
    # the frozen base is recognised as the dir's (after casting, for the fp32 form)
    n_base = sum(1 for k in state if k.startswith("llama_model.") and "lora_" not in k)
    assert report["llm_weights_from_dir"] == n_base - len(CHANGED)
    assert report["llm_weights_in_file"] == len(CHANGED)
    imported, args = assert_same_model(tmp_path / "out", model, atol=0)
    assert args.llm_conf["dtype"] == "bfloat16"


def test_encoder_sizes_come_from_the_tensors(tiny_dirs, tmp_path):
    """A feed-forward width other than 4 x the encoder's width is read, not assumed."""
    from osum.model.adapter import OSUMAdapter
    from osum.model.encoder import WhisperEncoder
    from osum.model.espnet_model import OSUMModel
    from osum.model.frontend import WhisperFrontend
    from osum.model.llm import build_llm

    torch.manual_seed(0)
    llm = build_llm(tiny_dirs["llm"], lora_conf=dict(lora_dropout=0.0))
    model = OSUMModel(
        frontend=WhisperFrontend(),
        specaug=None,
        encoder=WhisperEncoder(n_state=64, n_head=4, n_layer=3, n_ffn=96),
        adapter=OSUMAdapter(64, 64, linear_units=128, num_blocks=1, dropout_rate=0.0),
        llm=llm,
        trainable=("adapter", "lora"),
    ).eval()
    torch.save(osum_layout(trained_looking(model)), tmp_path / "infer.pt")
    report = import_osum(tmp_path / "infer.pt", tiny_dirs["llm"], tmp_path / "out", encoder_heads=4)
    assert report["sizes"]["n_ffn"] == 96 and report["sizes"]["n_layer"] == 3
    config = yaml.safe_load(open(tmp_path / "out" / "config.yaml", encoding="utf-8"))
    assert config["encoder_conf"]["n_ffn"] == 96
    assert_same_model(tmp_path / "out", model)


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


def test_the_command_prints_its_report_alone(reference, tiny_dirs, tmp_path):
    """stdout holds the JSON report and nothing else; stderr no progress bar or warning."""
    import subprocess
    import sys

    torch.save(osum_layout(reference), tmp_path / "infer.pt")
    cmd = [sys.executable, "-W", "always", "-m", "osum.bin.import_osum", "--checkpoint"]
    cmd += [str(tmp_path / "infer.pt"), "--llm", tiny_dirs["llm"], "--out", str(tmp_path / "out")]
    cmd += ["--encoder_heads", str(heads(tiny_dirs))]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert sorted(report["checked"]) == CHECKED
    assert all(line.startswith("INFO: ") for line in res.stderr.splitlines()), res.stderr


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
    with pytest.raises(CheckpointMismatch, match=r"infer\.pt: the checkpoint does not fit"):
        attempt(unknown)
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
    with pytest.raises(FileNotFoundError, match="a dir without mp_rank_00_model_states.pt"):
        import_osum(tmp_path, tiny_dirs["llm"], tmp_path / "out")
    states = deepspeed_model_states(good, [])
    states["lr"] = np.float64(1e-4)  # a client state that is no plain Python value
    torch.save(states, tmp_path / "states.pt")
    with pytest.raises(CheckpointMismatch, match="states.pt: not readable as tensors .*numpy"):
        import_osum(tmp_path / "states.pt", tiny_dirs["llm"], tmp_path / "out")
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(CheckpointMismatch, match="notes.pt: not readable as tensors"):
        import_osum(tmp_path / "notes.pt", tiny_dirs["llm"], tmp_path / "out")
    # the command: one line naming the problem, no traceback
    argv = ["--checkpoint", str(tmp_path / "nope.pt"), "--llm", tiny_dirs["llm"], "--out", "x"]
    with pytest.raises(
        SystemExit, match=r"^import_osum: OSUM checkpoint .*nope\.pt does not exist"
    ):
        import_main(argv)


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
