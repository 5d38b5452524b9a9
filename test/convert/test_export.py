"""Export: a self-contained dir (config, safetensors, LLM + tokenizer) that Speech2Text
loads from its path alone, with the same outputs; LoRA kept or merged; whatever trained."""

import itertools
import shutil

import numpy as np
import pytest
import torch

from helpers import assert_same_outputs
from osum.bin.export_model import main as export_main
from osum.convert.export import export_model
from osum.decode.speech2text import Speech2Text
from osum.dev.tiny_setup import tiny_config, write_config
from osum.train.task import OSUMTask


@pytest.fixture(scope="module")
def trained(tiny_dirs, tmp_path_factory):
    """A config and a checkpoint as training leaves them, LoRA and adapter changed."""
    root = tmp_path_factory.mktemp("export")
    config = write_config(
        root / "config.yaml",
        tiny_config(
            tiny_dirs,
            model_conf=dict(trainable=["adapter", "lora"], ctc_weight=0.3, save_base_weights=True),
            preprocessor_conf=dict(prompt_languages=["zh", "en"], tokenizer=tiny_dirs["llm"]),
        ),
    )
    trained_checkpoint(config, root / "model.pth", seed=5)
    return config, root / "model.pth"


def trained_checkpoint(config, path, seed):
    """A checkpoint of the config's model as training saves it (only what trains, plus what
    no dir provides), what trains moved away from the dirs' weights."""
    model, _ = OSUMTask.build_model_from_file(config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn(p.shape, generator=g))
    torch.save(model.state_dict(), path)


@pytest.mark.parametrize("merge", [False, True])
def test_exported_dir_loads_alone_with_the_same_outputs(trained, tiny_dirs, tmp_path, merge):
    config, model_file = trained
    export_model(config, model_file, tmp_path / "exp", merge_lora=merge)
    moved = tmp_path / "elsewhere" / "model"
    shutil.copytree(tmp_path / "exp", moved)  # nothing points back to the original paths
    shutil.rmtree(tmp_path / "exp")
    text = (moved / "config.yaml").read_text(encoding="utf-8")
    assert str(tmp_path) not in text and tiny_dirs["llm"] not in text
    assert tiny_dirs["whisper"] not in text
    original = Speech2Text(config, model_file, max_new_tokens=10)
    exported = Speech2Text(moved, max_new_tokens=10)
    assert exported.args.llm_conf["lora"] is not merge
    assert_same_outputs(original, exported, ("SER", "ASR"), 1e-4 if merge else 1e-5, 0, 20000)
    wave = 0.1 * np.random.default_rng(0).standard_normal(20000).astype(np.float32)
    assert exported.pre.prompt_for("ASR") == original.pre.prompt_for("ASR")  # zh first
    assert exported.model.ctc is not None
    # the export's config file, named directly, reads its paths relative to its dir too
    same = Speech2Text(moved / "config.yaml", max_new_tokens=10)
    assert same(wave, task="ASR").text == original(wave, task="ASR").text


def test_export_refuses_a_non_empty_dir(trained, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "x").write_text("keep")
    with pytest.raises(FileExistsError, match="not empty"):
        export_main(["--train_config", str(trained[0]), "--out", str(tmp_path / "out")])
    assert (tmp_path / "out" / "x").read_text() == "keep"


PARTS = ("adapter", "encoder", "lora", "llm")
# every trainable set a config can name; LoRA kept and merged where the LLM has it
CASES = [
    (parts, merge)
    for n in range(1, len(PARTS) + 1)
    for parts in itertools.combinations(PARTS, n)
    for merge in ((False, True) if "lora" in parts else (False,))
]


@pytest.mark.parametrize(
    "parts, merge",
    CASES,
    ids=lambda v: "+".join(v) if isinstance(v, tuple) else ("merged" if v else "kept"),
)
def test_every_trainable_set_round_trips(tiny_dirs, tmp_path, parts, merge):
    """A checkpoint as training saves it exports and loads back with the same logits and
    text."""
    config = write_config(
        tmp_path / "config.yaml",
        tiny_config(
            tiny_dirs,
            llm_conf=dict(
                path=tiny_dirs["llm"], lora="lora" in parts, lora_conf=dict(lora_dropout=0.0)
            ),
            model_conf=dict(trainable=list(parts)),
        ),
    )
    trained_checkpoint(config, tmp_path / "model.pth", seed=7)
    saved = torch.load(tmp_path / "model.pth", weights_only=True)
    assert any(k.startswith("llm.") and "lora_" not in k for k in saved) is ("llm" in parts)
    export_model(config, tmp_path / "model.pth", tmp_path / "exported", merge_lora=merge)
    original = Speech2Text(config, tmp_path / "model.pth", max_new_tokens=8)
    exported = Speech2Text(tmp_path / "exported", max_new_tokens=8)
    assert_same_outputs(original, exported, ("ASR", "SGC"), 1e-4 if merge else 1e-5, seed=1)
