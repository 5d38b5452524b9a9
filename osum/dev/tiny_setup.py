"""A tiny training setup for the tests and benchmarks: a data dir of a handful of
utterances, tiny models, a config that mirrors the constructors and the osum_train
command line.

Speech comes from the mini corpus' synthesiser (:func:`osum.data.synthetic.speak`:
espeak-ng, then sox); models are random-weight HF Whisper and Qwen2 saved with
``save_pretrained`` (:mod:`osum.dev.tiny_models`).
"""

import tempfile
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import soundfile
import yaml

from osum.data.synthetic import RATE, speak
from osum.dev.tiny_models import build_qwen2, build_tiny_models, build_whisper

SENTENCES = [
    ("en", "turn on the light"),
    ("en", "open the door"),
    ("en", "one two three"),
    ("en", "call my mother"),
    ("zh", "打开灯"),
    ("zh", "今天天气很好"),
]
VOICES = {"en": ("en-us", "en-us+f3"), "zh": ("cmn", "cmn+f3")}


def synth_speech(text: str, path: Path, voice: str = "en-us") -> int:
    """Speak ``text`` into a 16 kHz mono 16-bit wav at ``path``; returns its sample count."""
    with tempfile.TemporaryDirectory() as tmp:
        audio = speak(text, voice, tmp)
    soundfile.write(str(path), audio, RATE, subtype="PCM_16")
    return len(audio)


def make_data_dir(out: Path, sentences: Sequence[Tuple[str, str]] = SENTENCES) -> Dict[str, int]:
    """Two speakers (voices) per language saying every sentence: a Kaldi data dir.

    Writes wav.scp, text, utt2spk, spk2utt and speech_shape (samples per utterance).
    Returns utterance -> samples.
    """
    out = Path(out)
    wav_dir = out / "wav"
    wav_dir.mkdir(parents=True, exist_ok=True)
    rows: List[Tuple[str, str, str, str, int]] = []
    for i, (lang, text) in enumerate(sentences):
        for j, voice in enumerate(VOICES[lang]):
            spk = f"{lang}{j}"
            uid = f"{spk}-{i:03d}"
            wav = wav_dir / f"{uid}.wav"
            rows.append((uid, spk, str(wav.resolve()), text, synth_speech(text, wav, voice)))
    rows.sort()
    files = {
        n: open(out / n, "w", encoding="utf-8")
        for n in ("wav.scp", "text", "utt2spk", "speech_shape")
    }
    for uid, spk, wav, text, n in rows:
        files["wav.scp"].write(f"{uid} {wav}\n")
        files["text"].write(f"{uid} {text}\n")
        files["utt2spk"].write(f"{uid} {spk}\n")
        files["speech_shape"].write(f"{uid} {n}\n")
    for f in files.values():
        f.close()
    spk2utt: Dict[str, List[str]] = {}
    for uid, spk, *_ in rows:
        spk2utt.setdefault(spk, []).append(uid)
    (out / "spk2utt").write_text(
        "".join(f"{s} {' '.join(u)}\n" for s, u in sorted(spk2utt.items()))
    )
    return {r[0]: r[4] for r in rows}


def make_models(out: Path, corpus: Sequence[str] = ()) -> Dict[str, str]:
    out = Path(out)
    corpus = list(corpus) or None
    return {
        "llm": str(build_qwen2(str(out / "qwen2"), tokenizer_corpus=corpus)),
        "whisper": str(build_whisper(str(out / "whisper"))),
    }


def tiny_config(models: Dict[str, str], **overrides) -> dict:
    """A training config for the tiny models, mirroring the constructors' arguments."""
    config = dict(
        frontend="whisper",
        frontend_conf=dict(n_mels=80),
        encoder="whisper",
        encoder_conf=dict(init=models["whisper"]),
        speech_adapter="osum",
        speech_adapter_conf=dict(
            attention_heads=4, linear_units=128, num_blocks=1, dropout_rate=0.0
        ),
        llm_conf=dict(
            path=models["llm"], lora=True, dtype="float32", lora_conf=dict(lora_dropout=0.0)
        ),
        model_conf=dict(trainable=["adapter", "lora"]),
        preprocessor_conf=dict(prompt="Transcribe the speech."),
        optim="adamw",
        optim_conf=dict(lr=0.001, betas=[0.9, 0.99], eps=1.0e-6, weight_decay=0.01),
        batch_type="sorted",
        batch_size=4,
        max_epoch=2,
        num_workers=0,
        best_model_criterion=[["valid", "loss", "min"], ["valid", "acc", "max"]],
        keep_nbest_models=2,
        seed=0,
    )
    config.update(overrides)
    return config


def write_config(path: Path, config: dict) -> Path:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, allow_unicode=True, sort_keys=False)
    return Path(path)


def train_command(config: Path, data: Path, exp: Path, *extra: str) -> List[str]:
    """The osum_train command line for a data dir used for both training and validation."""
    data = Path(data)
    return [
        "python",
        "-m",
        "osum.bin.osum_train",
        "--config",
        str(config),
        "--output_dir",
        str(exp),
        "--ngpu",
        "0",
        "--train_data_path_and_name_and_type",
        f"{data}/wav.scp,speech,sound",
        "--train_data_path_and_name_and_type",
        f"{data}/text,text,text",
        "--valid_data_path_and_name_and_type",
        f"{data}/wav.scp,speech,sound",
        "--valid_data_path_and_name_and_type",
        f"{data}/text,text,text",
        "--train_shape_file",
        f"{data}/speech_shape",
        "--valid_shape_file",
        f"{data}/speech_shape",
        *extra,
    ]


def serving_model(
    out: Path, corpus: Sequence[str] = (), seed: int = 0, mini: bool = False, ctc: bool = False
) -> Path:
    """A tiny exported model (``osum.bin.export_model``'s layout) for the server's tests
    and benchmarks: random weights, fixed once written, in ``<out>/export``. ``mini``: the
    mini recipe's model sizes (:func:`osum.dev.tiny_models.build_tiny_models`), else the
    tests' smaller ones. ``ctc``: with a (random) CTC head, for joint CTC decoding.

    A random LLM rarely writes its end token; here the end token's output row copies (and
    slightly beats) that of one of the tokens it writes most, picked so that hypotheses
    end after 8 to 40 tokens on average, at different steps for different audio, as a
    trained model's do."""
    from collections import Counter

    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    from osum.convert.export import export_model
    from osum.decode.speech2text import Speech2Text
    from osum.model.checkpoint import LLM_DIR
    from osum.model.llm import base_model, quiet_loading

    out = Path(out)
    export = out / "export"
    if (export / LLM_DIR / ".end_token_done").exists():
        return export
    corpus = list(corpus) or [t for _, t in SENTENCES]
    if mini:
        llm, whisper = build_tiny_models(str(out / "base"), corpus, seed=seed)
        models = {"llm": str(llm), "whisper": str(whisper)}
    else:
        models = make_models(out / "base", corpus)
    torch.manual_seed(seed)
    overrides = {}
    if ctc:
        overrides["model_conf"] = dict(trainable=["adapter", "lora"], ctc_weight=0.3)
    config = write_config(out / "train.yaml", tiny_config(models, **overrides))
    if export.exists():
        import shutil

        shutil.rmtree(export)
    export_model(str(config), None, str(export))
    s2t = Speech2Text(str(export), max_new_tokens=48)
    end_id = s2t.pre.end_id
    rng = np.random.default_rng(seed)
    waves = [0.1 * rng.standard_normal(int(s * RATE)).astype("float32") for s in (0.5, 1, 2, 3, 5)]
    head = base_model(s2t.model.llm).get_output_embeddings().weight

    def lengths():
        return [len(s2t.tokenizer(r.text)["input_ids"]) for r in s2t(waves, task="ASR")]

    with torch.no_grad():
        head[end_id].zero_()  # never ends: which tokens does it write?
        tokens = Counter()
        for res in s2t(waves, task="ASR"):
            tokens.update(s2t.tokenizer(res.text)["input_ids"])
        # the first of its common tokens after which hypotheses end at 8 to 40 tokens
        for common, _ in tokens.most_common(12):
            head[end_id] = head[common] * 1.02
            n = lengths()
            if max(n) < 48 and 8 <= sum(n) / len(n) <= 40:
                break
        row = head[end_id].clone()
    with quiet_loading():
        llm = AutoModelForCausalLM.from_pretrained(str(export / LLM_DIR))
    with torch.no_grad():
        llm.get_output_embeddings().weight[end_id] = row
    with quiet_loading():
        llm.save_pretrained(str(export / LLM_DIR))
    (export / LLM_DIR / ".end_token_done").write_text("")
    return export
