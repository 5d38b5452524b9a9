"""Checkpoints are read without unpickling code: ``--init_param`` and model files."""

import pickle

import espnet2.tasks.abs_task
import pytest
import torch
from espnet2.torch_utils import load_pretrained_model as espnet_loader
from safetensors.torch import save_file
from torch import nn

import osum.train.task  # noqa: F401  (installs the loader into ESPnet's task)
from osum.model.checkpoint import load_model_file, load_pretrained_model


class Runs:
    """An object whose unpickling would run code."""

    def __reduce__(self):
        return (print, ("unpickled",))


def net(seed):
    torch.manual_seed(seed)
    return nn.ModuleDict({"enc": nn.Linear(3, 4), "dec": nn.Sequential(nn.Linear(4, 2))})


def test_espnet_task_uses_the_safe_loader():
    assert espnet2.tasks.abs_task.load_pretrained_model is load_pretrained_model


def test_a_pickle_with_code_is_refused(tmp_path):
    torch.save({"enc.weight": torch.ones(4, 3), "x": Runs()}, tmp_path / "bad.pth")
    with pytest.raises(pickle.UnpicklingError):
        load_pretrained_model(str(tmp_path / "bad.pth"), net(0), False)
    with pytest.raises(pickle.UnpicklingError):
        load_model_file(tmp_path / "bad.pth")


@pytest.mark.parametrize(
    "spec",
    ["{f}", "{f}:enc:enc", "{f}:::dec.0.bias", "{f}:::dec", "{f}::dec:enc", "{f}:dec.0:dec.0"],
)
def test_same_semantics_as_espnets_loader(tmp_path, spec):
    src = net(1)
    state = {k: v.clone() for k, v in src.state_dict().items()}
    if spec.startswith("{f}::dec"):  # a file holding the decoder alone
        state = {k[len("dec.") :]: v for k, v in state.items() if k.startswith("dec.")}
    torch.save(state, tmp_path / "m.pth")
    init = spec.format(f=tmp_path / "m.pth")
    ours, theirs = net(0), net(0)
    load_pretrained_model(init, ours, False)
    espnet_loader.load_pretrained_model(init, theirs, False)
    for k, v in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[k], v), (init, k)


def test_safetensors_files(tmp_path):
    src = net(2)
    save_file(src.state_dict(), str(tmp_path / "m.safetensors"))
    dst = net(0)
    load_pretrained_model(str(tmp_path / "m.safetensors"), dst, False)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)


def test_ignore_init_mismatch_keeps_base_weights_of_the_model(tiny_dirs, tmp_path):
    """Base weights (left out of the model's checkpoints) are still the model's weights:
    --ignore_init_mismatch must not filter them out of an --init_param file."""
    from helpers import make_model

    model = make_model(tiny_dirs, trainable=("adapter",))
    key = "llm.base_model.model.model.norm.weight"
    assert key not in model.state_dict()  # a base weight, from the LLM dir
    new = torch.full_like(torch.nn.Module.state_dict(model)[key], 2.0)
    torch.save({key: new, "adapter.nope": torch.ones(1)}, tmp_path / "m.pth")
    load_pretrained_model(str(tmp_path / "m.pth"), model, True)
    assert torch.equal(torch.nn.Module.state_dict(model)[key], new)
    assert key in model.state_dict()  # overwritten: saved from now on
