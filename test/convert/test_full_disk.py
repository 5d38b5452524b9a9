"""A model written to a full disk: an OSError naming the file (or the export dir) and
saying the disk is full, whatever library wrote; nothing half-written is left."""

import errno

import pytest
import torch
from safetensors.torch import save_file

from osum.convert.import_osum import import_osum
from osum.files import atomic_path, naming_full_disk

TENSORS = {"w": torch.zeros(100_000)}  # 400 kB


def test_torch_save_on_a_full_disk_names_the_file(small_disk):
    target = small_disk / "model.pth"
    with pytest.raises(OSError) as e:
        with atomic_path(target) as tmp:  # it names a full disk itself
            torch.save(TENSORS, tmp)  # torch's own error: "unexpected pos ..."
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert list(small_disk.iterdir()) == []


def test_safetensors_on_a_full_disk_names_the_file(small_disk):
    target = small_disk / "model.safetensors"
    with pytest.raises(OSError) as e:
        with naming_full_disk(target):
            save_file(TENSORS, str(target))
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)


def test_other_errors_pass_unchanged(tmp_path):
    with pytest.raises(KeyError):
        with naming_full_disk(tmp_path / "x"):
            raise KeyError("a bug")


@pytest.mark.slow
def test_an_export_to_a_full_disk_leaves_nothing(tiny_dirs, small_disk, tmp_path):
    from osum.convert.export import export_model
    from osum.dev.tiny_setup import tiny_config, write_config

    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_dirs))
    with pytest.raises(OSError) as e:
        export_model(str(config), None, str(small_disk / "exported"))
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(small_disk / "exported")
    assert list(small_disk.iterdir()) == []  # no exported.partial


@pytest.mark.parametrize(
    "kw", [dict(adapter_heads=0), dict(lora_alpha=-1), dict(encoder_heads=0)], ids=str
)
def test_import_refuses_bad_values_first(kw, tmp_path):
    with pytest.raises(ValueError, match=f"{next(iter(kw))} must be >= 1"):
        import_osum(tmp_path / "infer.pt", tmp_path / "llm", tmp_path / "out", **kw)
