"""Feature dump (stage 2): a Kaldi data dir -> audio or Whisper log-mel ready for training.

    raw          16 kHz mono 16-bit wav files (converted from any rate, channel count or
                 format; segments cut out), ``wav.scp`` and ``speech_shape`` (samples)
    whisper_mel  Whisper log-mel (80 or 128 bins) in kaldiio ark/scp (``feats.scp``),
                 ``feats_shape`` (``frames,bins``) and ``utt2num_frames``; float32, or
                 in Kaldi's compressed matrix formats (``compress``): ``2byte``
                 (kTwoByteAuto, half the size, within 2e-5 of the float32 values) or
                 ``1byte`` (kSpeechFeature, Kaldi's ``copy-feats --compress``, a
                 quarter, within about 0.01). Float32 takes 32,000 bytes a second of
                 audio (80 bins), as much as 16-bit wav.

Both copy the data dir's text and task files for the utterances they keep. An utterance
whose audio is missing, unreadable, empty or longer than the limit is skipped and listed
with the reason in ``<out>/skipped``; the good ones are never lost. With ``nj`` jobs,
job ``j`` dumps the ``j``-th of ``nj`` contiguous parts into ``<out>/split<nj>/<j>`` and
:func:`merge` joins the parts.
"""

from pathlib import Path
from typing import Dict, List

import kaldiio
import numpy as np
import soundfile
import torch
from kaldiio.compression_header import kSpeechFeature, kTwoByteAuto

from osum.data.audio import AudioReader, is_pipe
from osum.data.kaldi import DataError, utterances
from osum.model.frontend import SAMPLE_RATE, WhisperFrontend
from osum.progress import progress

COPIED = [
    "text",
    "utt2spk",
    "utt2task",
    "utt2taskinfo",
    "utt2emotion",
    "utt2event",
    "utt2style",
    "utt2gender",
    "utt2age",
    "utt2answer",
    "utt2question",
    "ctm",
]
WHOLE = ["corpus"]  # one-line files about the whole set (what it was prepared from), as they are


# --compress: Kaldi's compressed matrix formats (kaldiio writes and reads them)
COMPRESSION = {"none": None, "2byte": kTwoByteAuto, "1byte": kSpeechFeature}


def dump(
    data_dir: str,
    out_dir: str,
    feats_type: str = "raw",
    n_mels: int = 80,
    max_seconds: float = 30.0,
    nj: int = 1,
    job: int = 1,
    compress: str = "none",
) -> Dict[str, int]:
    """Dump job ``job`` of ``nj`` (1-based); returns counts of dumped and skipped."""
    data_dir, out = Path(data_dir), Path(out_dir)
    if feats_type not in ("raw", "whisper_mel"):
        raise ValueError(f"feats_type must be raw or whisper_mel, not {feats_type!r}")
    if compress not in COMPRESSION:
        raise ValueError(f"compress must be one of {sorted(COMPRESSION)}, not {compress!r}")
    if nj > 1:
        out = out / f"split{nj}" / str(job)
    out.mkdir(parents=True, exist_ok=True)
    todo = utterances(data_dir)
    # contiguous parts (as Kaldi's split_scp.pl), so a recording's segments share a job
    todo = todo[(job - 1) * len(todo) // nj : job * len(todo) // nj]
    frontend = WhisperFrontend(n_mels=n_mels) if feats_type == "whisper_mel" else None
    kept, skipped = [], []
    scp_lines, shapes = [], []
    writer, reader = None, AudioReader()
    if frontend is not None:
        writer = kaldiio.WriteHelper(
            f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}",
            compression_method=COMPRESSION[compress],
        )
    bar = progress(len(todo), f"dump {data_dir.name}" + (f" {job}/{nj}" if nj > 1 else ""))
    try:
        for utt, path, start, end in todo:
            bar.update()
            reason, audio = None, None
            if not path or not (is_pipe(path) or Path(path).is_file()):
                reason = f"audio file {path or '(none in wav.scp)'} not found"
            else:
                try:
                    audio = reader(path, start, end)
                except (RuntimeError, soundfile.LibsndfileError, ValueError) as e:
                    reason = f"cannot read {path}: {e}"
            if reason is None and len(audio) <= 200:
                reason = f"{path}: empty or shorter than 201 samples"
            if reason is None and 0 < max_seconds * SAMPLE_RATE < len(audio):  # 0: no limit
                reason = f"{len(audio) / SAMPLE_RATE:.1f} s is longer than {max_seconds} s"
            if reason is None and not np.isfinite(audio).all():
                reason = f"{path}: NaN or inf samples"
            if reason is not None:
                skipped.append((utt, reason))
                continue
            if frontend is None:
                wav_dir = out / "wav"
                wav_dir.mkdir(exist_ok=True)
                target = (wav_dir / f"{utt}.wav").resolve()
                soundfile.write(target, audio, SAMPLE_RATE, subtype="PCM_16")
                scp_lines.append(f"{utt} {target}")
                shapes.append(f"{utt} {len(audio)}")
            else:
                x = torch.from_numpy(audio)[None]
                feats, n = frontend(x, torch.tensor([x.shape[1]]))
                writer(utt, feats[0].numpy())
                shapes.append(f"{utt} {int(n[0])},{n_mels}")
            kept.append(utt)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    if frontend is None:
        _write(out / "wav.scp", scp_lines)
        _write(out / "speech_shape", shapes)
    else:
        _write(out / "feats_shape", shapes)
        _write(
            out / "utt2num_frames", [f"{s.split()[0]} {s.split()[1].split(',')[0]}" for s in shapes]
        )
    _write(out / "skipped", [f"{u} {r}" for u, r in skipped])
    _copy_task_files(data_dir, out, set(kept))
    return {"dumped": len(kept), "skipped": len(skipped)}


def _write(path: Path, lines: List[str]) -> None:
    path.write_text("".join(f"{x}\n" for x in sorted(lines)), encoding="utf-8")


def _copy_task_files(src: Path, out: Path, keep: set) -> None:
    for name in COPIED:
        if not (src / name).is_file():
            continue
        with open(src / name, encoding="utf-8") as f:
            lines = [ln for ln in f if ln.split(maxsplit=1)[0] in keep]
        (out / name).write_text("".join(lines), encoding="utf-8")
    for name in WHOLE:
        if (src / name).is_file():
            (out / name).write_text((src / name).read_text(encoding="utf-8"), encoding="utf-8")
    utt2spk = out / "utt2spk"
    if utt2spk.is_file():
        spk2utt: Dict[str, List[str]] = {}
        for line in utt2spk.read_text(encoding="utf-8").splitlines():
            utt, spk = line.split()
            spk2utt.setdefault(spk, []).append(utt)
        _write(out / "spk2utt", [f"{s} {' '.join(u)}" for s, u in spk2utt.items()])


def merge(out_dir: str, nj: int) -> Dict[str, int]:
    """Join ``split<nj>/<j>`` parts into ``out_dir`` (scp files point into the parts)."""
    out = Path(out_dir)
    parts = [out / f"split{nj}" / str(j) for j in range(1, nj + 1)]
    for p in parts:
        if not p.is_dir():
            raise DataError(f"{p}: dump job {p.name} of {nj} has not run")
    names = {f.name for p in parts for f in p.iterdir() if f.is_file() and f.suffix != ".ark"}
    counts = {"dumped": 0, "skipped": 0}
    for name in sorted(names):
        if name in WHOLE:  # the same in every part
            (out / name).write_text((parts[0] / name).read_text(encoding="utf-8"), encoding="utf-8")
            continue
        lines: List[str] = []
        for p in parts:
            if (p / name).is_file():
                lines += (p / name).read_text(encoding="utf-8").splitlines()
        if name == "ctm":  # several lines an utterance: keep their order
            lines.sort(key=lambda x: x.split(maxsplit=1)[0])
            (out / name).write_text("".join(f"{x}\n" for x in lines), encoding="utf-8")
        else:
            _write(out / name, lines)
        if name in ("speech_shape", "feats_shape"):
            counts["dumped"] = len(lines)
        if name == "skipped":
            counts["skipped"] = len(lines)
    return counts
