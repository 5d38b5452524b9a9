"""Helpers shared by the tests."""

import subprocess
import sys
from pathlib import Path

import torch

from osum.dev.recipe import REPO, copy_recipe, run_recipe  # noqa: F401  (used by the tests)
from osum.model.adapter import OSUMAdapter
from osum.model.encoder import WhisperEncoder
from osum.model.espnet_model import OSUMModel
from osum.model.frontend import WhisperFrontend
from osum.model.llm import build_llm


def run_train(cmd, cwd, check=True, env=None, timeout=600):
    """Run an osum_train command line with this interpreter; returns the CompletedProcess."""
    cmd = [sys.executable if c == "python" else c for c in cmd]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stderr[-4000:]}")
    return proc


def make_model(
    tiny_dirs,
    trainable=("adapter",),
    lora=True,
    llm_dtype="float32",
    gradient_checkpointing=False,
    **kw,
):
    """OSUMModel on the tiny dirs, dropout off, in eval mode."""
    torch.manual_seed(0)
    llm = build_llm(
        tiny_dirs["llm"],
        lora=lora,
        lora_conf=dict(lora_dropout=0.0),
        dtype=llm_dtype,
        gradient_checkpointing=gradient_checkpointing,
    )
    hidden = llm.get_base_model().config.hidden_size if lora else llm.config.hidden_size
    return OSUMModel(
        frontend=WhisperFrontend(),
        specaug=None,
        encoder=WhisperEncoder(
            init=tiny_dirs["whisper"], gradient_checkpointing=gradient_checkpointing
        ),
        adapter=OSUMAdapter(64, hidden, linear_units=128, num_blocks=1, dropout_rate=0.0),
        llm=llm,
        trainable=trainable,
        **kw,
    ).eval()


def batch_of(lengths_s=(1.0, 0.6, 1.3), prompts=(3, 5, 2), targets=(4, 2, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    waves = [0.1 * torch.randn(int(s * 16000), generator=g) for s in lengths_s]
    prompt = [torch.randint(3, 300, (n,), generator=g) for n in prompts]
    text = [torch.randint(3, 300, (n,), generator=g) for n in targets]
    pad = torch.nn.utils.rnn.pad_sequence
    return dict(
        speech=pad(waves, batch_first=True),
        speech_lengths=torch.tensor([len(w) for w in waves]),
        prompt=pad(prompt, batch_first=True, padding_value=-1),
        prompt_lengths=torch.tensor(prompts),
        text=pad(text, batch_first=True, padding_value=-1),
        text_lengths=torch.tensor(targets),
    )


def select(batch, i):
    out = {}
    for k, v in batch.items():
        if k.endswith("_lengths"):
            out[k] = v[i : i + 1]
        else:
            out[k] = v[i : i + 1, : int(batch[k + "_lengths"][i])]
    return out


ASSIGN = {  # utterance of the espeak-ng data dir -> task
    "en0-000": "ASR",
    "en0-001": "SRWT",
    "en0-002": "VED",
    "en0-003": "SER",
    "en1-000": "SSR",
    "en1-001": "SGC",
    "en1-002": "SAP",
    "en1-003": "STTC",
    "zh0-004": "TRANSCRIBE_AGE_GENDER",
    "zh0-005": "AGE_GENDER",
    "zh1-004": "TRANSCRIBE_STYLE_AGE_GENDER",
    "zh1-005": "SRWT",
}
LABELS = {
    "utt2event": {"en0-002": "throat clearing"},
    "utt2emotion": {"en0-003": "happy"},
    "utt2style": {"en1-000": "news/science", "zh1-004": "fairy tale"},
    "utt2gender": {"en1-001": "male", "zh0-004": "female", "zh0-005": "female", "zh1-004": "male"},
    "utt2age": {"en1-002": "adult", "zh0-004": "old", "zh0-005": "child", "zh1-004": "adult"},
}


def write(path, rows):
    path.write_text("".join(f"{k} {v}\n" for k, v in sorted(rows.items())), encoding="utf-8")


def valid_logits(model, batch):
    """The LLM's logits at the valid positions of the spliced batch (targets included)."""
    with torch.no_grad():
        emb, lens = model.encode_speech(batch["speech"], batch["speech_lengths"])
        embeds, mask, _ = model.build_inputs(
            emb,
            lens,
            batch["prompt"],
            batch["prompt_lengths"],
            batch["text"],
            batch["text_lengths"],
        )
        return model.llm(inputs_embeds=embeds, attention_mask=mask).logits[mask.bool()]


def assert_same_outputs(original, other, tasks, atol=1e-5, seed=0, samples=24000):
    """Two Speech2Text of one model (one exported or imported, say): the same LLM logits on
    a batch, and the same text for each task on a random waveform."""
    import numpy as np

    batch = batch_of()
    want = valid_logits(original.model.eval(), batch)
    got = valid_logits(other.model.eval(), batch)
    assert torch.allclose(got, want, atol=atol)
    wave = 0.1 * np.random.default_rng(seed).standard_normal(samples).astype(np.float32)
    for task in tasks:
        assert other(wave, task=task).text == original(wave, task=task).text, task


def read_kv(path: Path) -> dict:
    """``<key> <value>`` lines of a Kaldi table as a dict."""
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        k, _, v = line.partition(" ")
        out[k] = v
    return out
