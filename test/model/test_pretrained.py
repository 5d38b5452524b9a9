"""The checks of a recipe's pretrained models: each problem names the option and the path."""

from osum.dev.tiny_models import build_llama
from osum.model.pretrained import check_pretrained


def test_pretrained_dirs_are_checked(tiny_dirs, tmp_path):
    assert check_pretrained(tiny_dirs["whisper"], tiny_dirs["llm"]) == []
    llama = build_llama(str(tmp_path / "llama"))  # a sentencepiece tokenizer only
    assert check_pretrained(llm_path=str(llama)) == []
    (tmp_path / "whisper.pt").write_bytes(b"")  # a file: an openai-whisper checkpoint
    assert check_pretrained(str(tmp_path / "whisper.pt")) == []
    (errors,) = [check_pretrained(encoder_init=tiny_dirs["llm"])]
    assert len(errors) == 1 and "encoder_init=" in errors[0] and "'qwen2' model" in errors[0]
    errors = check_pretrained(str(tmp_path / "none"), str(tmp_path / "none"))
    assert [e.split("=")[0] for e in errors] == ["encoder_init", "llm_path"]
    assert "openai-whisper .pt" in errors[0] and "tokenizer" in errors[1]
