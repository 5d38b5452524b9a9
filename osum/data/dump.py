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
from typing import Dict, List, Tuple

import kaldiio
import numpy as np
import torch
from kaldiio.compression_header import kSpeechFeature, kTwoByteAuto

from osum.data.audio import AudioReader, is_pipe, write_wav
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
    todo = _job_part(utterances(data_dir), nj, job)
    sink = _WavSink(out) if feats_type == "raw" else _MelSink(out, n_mels, compress)
    kept, skipped = [], []
    reader = AudioReader()
    bar = progress(len(todo), f"dump {data_dir.name}" + (f" {job}/{nj}" if nj > 1 else ""))
    try:
        for utt, path, start, end in todo:
            bar.update()
            audio, reason = _read_usable(reader, path, start, end, max_seconds)
            if reason is not None:
                skipped.append((utt, reason))
                continue
            sink.add(utt, audio)
            kept.append(utt)
    finally:
        bar.close()
        sink.close()
    sink.write_lists()
    _write(out / "skipped", [f"{u} {r}" for u, r in skipped])
    _copy_task_files(data_dir, out, set(kept))
    return {"dumped": len(kept), "skipped": len(skipped)}


def _job_part(todo: List[tuple], nj: int, job: int) -> List[tuple]:
    """Job ``job``'s contiguous part of ``nj`` (as Kaldi's split_scp.pl), so that a
    recording's segments, which sort together, share a job."""
    return todo[(job - 1) * len(todo) // nj : job * len(todo) // nj]


def _read_usable(
    reader: AudioReader, path: str, start: float, end: float | None, max_seconds: float
) -> Tuple[np.ndarray | None, str | None]:
    """(audio, None), or (None, why the utterance is skipped): its audio is missing,
    unreadable, empty, longer than ``max_seconds`` (0: no limit) or not finite."""
    if not path or not (is_pipe(path) or Path(path).is_file()):
        return None, f"audio file {path or '(none in wav.scp)'} not found"
    try:
        audio = reader(path, start, end)
    except (RuntimeError, ValueError) as e:  # RuntimeError: soundfile's LibsndfileError too
        return None, f"cannot read {path}: {e}"
    if len(audio) <= 200:
        return None, f"{path}: empty or shorter than 201 samples"
    if 0 < max_seconds * SAMPLE_RATE < len(audio):
        return None, f"{len(audio) / SAMPLE_RATE:.1f} s is longer than {max_seconds} s"
    if not np.isfinite(audio).all():
        return None, f"{path}: NaN or inf samples"
    return audio, None


class _WavSink:
    """raw: 16-bit wav files in ``<out>/wav``, ``wav.scp`` and ``speech_shape`` (samples)."""

    def __init__(self, out: Path):
        self.out = out
        self.scp_lines: List[str] = []
        self.shapes: List[str] = []

    def add(self, utt: str, audio: np.ndarray) -> None:
        wav_dir = self.out / "wav"
        wav_dir.mkdir(exist_ok=True)
        target = (wav_dir / f"{utt}.wav").resolve()
        write_wav(target, audio)
        self.scp_lines.append(f"{utt} {target}")
        self.shapes.append(f"{utt} {len(audio)}")

    def close(self) -> None:
        pass

    def write_lists(self) -> None:
        _write(self.out / "wav.scp", self.scp_lines)
        _write(self.out / "speech_shape", self.shapes)


class _MelSink:
    """whisper_mel: Whisper log-mel in ``feats.ark``/``feats.scp`` (``compress``: Kaldi's
    compressed matrices), ``feats_shape`` (``frames,bins``) and ``utt2num_frames``."""

    def __init__(self, out: Path, n_mels: int, compress: str):
        self.out, self.n_mels = out, n_mels
        self.frontend = WhisperFrontend(n_mels=n_mels)
        self.writer = kaldiio.WriteHelper(
            f"ark,scp:{out / 'feats.ark'},{out / 'feats.scp'}",
            compression_method=COMPRESSION[compress],
        )
        self.frames: List[Tuple[str, int]] = []

    def add(self, utt: str, audio: np.ndarray) -> None:
        x = torch.from_numpy(audio)[None]
        feats, n = self.frontend(x, torch.tensor([x.shape[1]]))
        self.writer(utt, feats[0].numpy())
        self.frames.append((utt, int(n[0])))

    def close(self) -> None:
        self.writer.close()

    def write_lists(self) -> None:
        _write(self.out / "feats_shape", [f"{u} {n},{self.n_mels}" for u, n in self.frames])
        _write(self.out / "utt2num_frames", [f"{u} {n}" for u, n in self.frames])


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
