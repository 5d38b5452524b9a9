"""A tiny model memorises a few espeak-ng utterances until greedy decoding reproduces them."""

import pytest
import soundfile
import torch

from osum.asrx.preprocess import OSUMPreprocessor
from osum.decode.search import greedy_tokens
from osum.model.adapter import OSUMAdapter
from osum.model.encoder import WhisperEncoder
from osum.model.espnet_model import OSUMModel
from osum.model.frontend import WhisperFrontend
from osum.model.llm import build_llm

pytestmark = pytest.mark.slow


def load_batch(data_dir, uids, pre):
    wav = dict(line.split(maxsplit=1) for line in open(data_dir / "wav.scp"))
    text = dict(line.rstrip("\n").split(maxsplit=1) for line in open(data_dir / "text"))
    items = []
    for uid in uids:
        audio, _ = soundfile.read(wav[uid].strip(), dtype="float32")
        items.append(pre(uid, {"speech": audio, "text": text[uid]}))
    pad = torch.nn.utils.rnn.pad_sequence
    t = [torch.from_numpy(x["text"]) for x in items]
    p = [torch.from_numpy(x["prompt"]) for x in items]
    s = [torch.from_numpy(x["speech"]) for x in items]
    batch = dict(
        speech=pad(s, batch_first=True),
        speech_lengths=torch.tensor([len(x) for x in s]),
        prompt=pad(p, batch_first=True, padding_value=-1),
        prompt_lengths=torch.tensor([len(x) for x in p]),
        text=pad(t, batch_first=True, padding_value=-1),
        text_lengths=torch.tensor([len(x) for x in t]),
    )
    return batch, [text[u] for u in uids]


def test_overfit_until_greedy_reproduces_targets(tiny_dirs, speech_data):
    torch.manual_seed(0)
    # the LLM trains in full: a frozen random-weight base under LoRA cannot fit targets
    llm = build_llm(tiny_dirs["llm"], lora=False)
    model = OSUMModel(
        frontend=WhisperFrontend(),
        specaug=None,
        encoder=WhisperEncoder(init=tiny_dirs["whisper"]),
        adapter=OSUMAdapter(64, 64, linear_units=128, num_blocks=1, dropout_rate=0.0),
        llm=llm,
        trainable=("adapter", "encoder", "llm"),
    )
    pre = OSUMPreprocessor(train=True, tokenizer=tiny_dirs["llm"])
    uids = ["en0-000", "en0-001", "en1-002", "zh0-004", "zh1-005"]
    batch, refs = load_batch(speech_data, uids, pre)
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    hyps = None
    for step in range(800):
        model.train()
        loss = model(**batch)[0]
        optim.zero_grad()
        loss.backward()
        optim.step()
        if step % 25 == 24:
            model.eval()
            ids = greedy_tokens(
                model,
                batch["speech"],
                batch["speech_lengths"],
                batch["prompt"],
                batch["prompt_lengths"],
                max_new_tokens=30,
                end_id=pre.end_id,
            )
            hyps = [pre.tokenizer.decode(h) for h in ids]
            if hyps == refs:
                break
    assert hyps == refs, f"after {step + 1} steps (loss {loss.item():.3f}): {hyps} != {refs}"
