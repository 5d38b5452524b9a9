"""A handful of synthetic utterances and tiny models for a training smoke run.

Speech is synthesised with espeak-ng and converted with sox (Debian tools); models are
random-weight HF Whisper and Qwen2 saved with ``save_pretrained``. The smoke run
trains through ``osum.bin.osum_train`` like any recipe does.
"""

import re
import subprocess
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import soundfile
import yaml

from osum.dev.tiny_models import build_qwen2, build_whisper

SENTENCES = [
    ("en", "turn on the light"),
    ("en", "open the door"),
    ("en", "one two three"),
    ("en", "call my mother"),
    ("zh", "打开灯"),
    ("zh", "今天天气很好"),
]
VOICES = {"en": ("en-us", "en-us+f3"), "zh": ("cmn", "cmn+f3")}


def synth_speech(text: str, path: Path, voice: str = "en-us", rate: int = 16000) -> int:
    """Speak ``text`` into a 16 kHz mono 16-bit wav at ``path``; returns its sample count."""
    path = Path(path)
    raw = path.with_name(path.stem + ".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)], check=True)
    raw.unlink()
    return soundfile.info(str(path)).frames


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


# OSUM's three training phases: each starts from the previous one's averaged model
PHASES = [
    ("1_adapter", ["adapter"]),
    ("2_encoder", ["adapter", "encoder"]),
    ("3_lora", ["adapter", "encoder", "lora"]),
]


def run_smoke(out: Path, epochs: int = 2) -> dict:
    """Data, tiny models, the three training phases through osum_train, greedy decoding."""
    import json
    import os
    import sys
    import time

    import torch

    from osum.asrx.preprocess import OSUMPreprocessor
    from osum.decode.search import greedy_tokens
    from osum.train.task import OSUMTask

    out = Path(out).resolve()
    start = time.time()
    data = out / "data" / "train"
    if not (data / "speech_shape").exists():
        make_data_dir(data)
    repo = Path(__file__).resolve().parents[2]
    subprocess.run(
        [str(repo / "utils" / "validate_data_dir.sh"), "--no-feats", str(data)], check=True
    )
    models = make_models(out / "models", [t for _, t in SENTENCES])
    init = None
    valid_loss = {}
    for name, trainable in PHASES:
        exp = out / "exp" / name
        cfg = tiny_config(models, max_epoch=epochs, model_conf=dict(trainable=trainable))
        config = write_config(out / "conf" / f"train_{name}.yaml", cfg)
        cmd = [sys.executable if c == "python" else c for c in train_command(config, data, exp)]
        cmd += ["--resume", "true"] + (["--init_param", str(init)] if init else [])
        print(f"phase {name}: training {trainable} -> {exp}", flush=True)
        with open(out / f"train_{name}.log", "w") as log:
            subprocess.run(
                cmd,
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, PYTHONUNBUFFERED="1"),
            )
        init = exp / "valid.loss.ave.pth"
        text = (out / f"train_{name}.log").read_text()
        valid_loss[name] = [
            float(x) for x in re.findall(r"epoch results:.*\[valid\] loss=([\d.]+)", text)
        ]

    model, args = OSUMTask.build_model_from_file(exp / "config.yaml", init, "cpu")
    model.eval()
    pre = OSUMPreprocessor(
        train=False, **{"tokenizer": args.llm_conf["path"], **args.preprocessor_conf}
    )
    wav = dict(line.split(maxsplit=1) for line in open(data / "wav.scp", encoding="utf-8"))
    refs = dict(
        line.rstrip("\n").split(maxsplit=1) for line in open(data / "text", encoding="utf-8")
    )
    results = []
    for uid in sorted(wav):
        audio, _ = soundfile.read(wav[uid].strip(), dtype="float32")
        x = torch.from_numpy(audio)[None]
        prompt = torch.from_numpy(pre.prompt_ids(pre.prompt_for("ASR")))[None]
        ids = greedy_tokens(
            model,
            x,
            torch.tensor([x.shape[1]]),
            prompt,
            torch.tensor([prompt.shape[1]]),
            max_new_tokens=20,
            end_id=pre.end_id,
        )[0]
        results.append(dict(utt=uid, ref=refs[uid], hyp=pre.tokenizer.decode(ids)))
    summary = dict(
        phases=[p for p, _ in PHASES],
        valid_loss_per_epoch=valid_loss,
        utterances=len(results),
        exact_matches=sum(r["ref"] == r["hyp"] for r in results),
        final_model=str(init),
        seconds=round(time.time() - start, 1),
    )
    (out / "decode.json").write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return summary
