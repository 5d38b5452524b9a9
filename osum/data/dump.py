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
whose audio is missing, unreadable, a wav cut short (its header declares more samples
than the file holds), empty, not finite (NaN or inf) or longer than the limit is skipped
and listed with the reason in ``<out>/skipped``; the good ones are never lost. Audio that
is all zeros is kept (silence is an answer for some tasks) and listed in
``<out>/warnings``. Every file a later step reads appears whole (written under a
temporary name, then renamed); ``skipped`` is written last, when the job is done (a
job run again removes it first). With ``nj`` jobs, job ``j`` dumps the ``j``-th of
``nj`` contiguous parts into ``<out>/split<nj>/<j>`` and :func:`merge` joins the parts
(one job dumps straight into ``<out>``, and :func:`merge` then only counts).
"""

import logging
import os
from pathlib import Path
from typing import Dict, List, Tuple

import kaldiio
import numpy as np
import torch
from kaldiio.compression_header import kSpeechFeature, kTwoByteAuto

from osum.data.audio import AudioReader, is_pipe, write_wav
from osum.data.kaldi import DataError, utterances
from osum.files import atomic_path, write_text
from osum.model.frontend import SAMPLE_RATE, WhisperFrontend
from osum.progress import progress

log = logging.getLogger(__name__)

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
    (out / "skipped").unlink(missing_ok=True)  # written again last: the job is done
    for stale in [*out.glob(".*.tmp"), *out.glob("wav/.*.tmp")]:  # a killed run's, half written
        stale.unlink()
    todo = _job_part(utterances(data_dir), nj, job)
    sink = _WavSink(out) if feats_type == "raw" else _MelSink(out, n_mels, compress)
    kept, skipped, warned = [], [], []
    reader = AudioReader()
    bar = progress(len(todo), f"dump {data_dir.name}" + (f" {job}/{nj}" if nj > 1 else ""))
    done = False
    try:
        for utt, path, start, end in todo:
            bar.update()
            audio, reason = _read_usable(reader, path, start, end, max_seconds)
            if reason is not None:
                skipped.append((utt, reason))
                continue
            if not audio.any():
                warned.append((utt, f"{path}: all samples are zero (kept)"))
            sink.add(utt, audio)
            kept.append(utt)
        done = True
    finally:
        bar.close()
        sink.close(done)
    sink.write_lists()
    _copy_task_files(data_dir, out, set(kept))
    _write(out / "warnings", [f"{u} {r}" for u, r in warned])
    _write(out / "skipped", [f"{u} {r}" for u, r in skipped])
    for rows, what, listed in ((skipped, "skipped", "skipped"), (warned, "kept", "warnings")):
        if rows:
            log.warning(
                f"dump: {len(rows)} of {len(todo)} utterances {what}, listed in "
                f"{out / listed} (the first: {' '.join(rows[0])})"
            )
    return {"dumped": len(kept), "skipped": len(skipped)}


def _job_part(todo: List[tuple], nj: int, job: int) -> List[tuple]:
    """Job ``job``'s contiguous part of ``nj`` (as Kaldi's split_scp.pl), so that a
    recording's segments, which sort together, share a job."""
    return todo[(job - 1) * len(todo) // nj : job * len(todo) // nj]


def _read_usable(
    reader: AudioReader, path: str, start: float, end: float | None, max_seconds: float
) -> Tuple[np.ndarray | None, str | None]:
    """(audio, None), or (None, why the utterance is skipped): its audio is missing,
    unreadable (a wav cut short too), empty, longer than ``max_seconds`` (0: no limit)
    or not finite. ``path`` is a file name, read as it is (no shell sees it), or a
    Kaldi pipe ``command |``, the one entry a shell runs."""
    if not path or not (is_pipe(path) or Path(path).is_file()):
        return None, f"audio file {path or '(none in wav.scp)'} not found"
    try:
        audio = reader(path, start, end)
    except (RuntimeError, ValueError) as e:  # RuntimeError: soundfile's LibsndfileError too
        why = str(e)
        return None, why if why.startswith(f"{path}: ") else f"cannot read {path}: {why}"
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
        target = (wav_dir / _file_name(utt, ".wav")).resolve()
        with atomic_path(target) as tmp:
            write_wav(tmp, audio)
        self.scp_lines.append(f"{utt} {target}")
        self.shapes.append(f"{utt} {len(audio)}")

    def close(self, done: bool) -> None:
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
        # written under temporary names; write_lists renames the ark and writes the scp
        self.tmp_ark, self.tmp_scp = (out / f".{n}.{os.getpid()}.tmp" for n in ("ark", "scp"))
        # not atomic: to the temporary names above
        self.writer = kaldiio.WriteHelper(
            f"ark,scp:{self.tmp_ark},{self.tmp_scp}",
            compression_method=COMPRESSION[compress],
        )
        self.frames: List[Tuple[str, int]] = []

    def add(self, utt: str, audio: np.ndarray) -> None:
        x = torch.from_numpy(audio)[None]
        feats, n = self.frontend(x, torch.tensor([x.shape[1]]))
        self.writer(utt, feats[0].numpy())
        self.frames.append((utt, int(n[0])))

    def close(self, done: bool) -> None:
        self.writer.close()
        if not done:
            self.tmp_ark.unlink(missing_ok=True)
            self.tmp_scp.unlink(missing_ok=True)

    def write_lists(self) -> None:
        """feats.ark renamed into place, then feats.scp (the old one removed first, so an
        scp never points into another ark) and the shapes."""
        ark, prefix = self.out / "feats.ark", f"{self.tmp_ark}:"
        lines = []
        for line in self.tmp_scp.read_text(encoding="utf-8").splitlines():
            utt, where = line.split(" ", 1)
            assert where.startswith(prefix), line
            lines.append(f"{utt} {ark}:{where[len(prefix) :]}")
        (self.out / "feats.scp").unlink(missing_ok=True)
        os.replace(self.tmp_ark, ark)
        self.tmp_scp.unlink()
        _write(self.out / "feats.scp", lines)
        _write(self.out / "feats_shape", [f"{u} {n},{self.n_mels}" for u, n in self.frames])
        _write(self.out / "utt2num_frames", [f"{u} {n}" for u, n in self.frames])


def _file_name(utt: str, suffix: str) -> str:
    """A file name for utterance ``utt``: the id itself, with ``%`` and ``/`` (which
    cannot be in a file name) written ``%25`` and ``%2F``."""
    return utt.replace("%", "%25").replace("/", "%2F") + suffix


def _write(path: Path, lines: List[str]) -> None:
    write_text(path, "".join(f"{x}\n" for x in sorted(lines)))


def _copy_task_files(src: Path, out: Path, keep: set) -> None:
    for name in COPIED:
        if not (src / name).is_file():
            continue
        with open(src / name, encoding="utf-8") as f:
            lines = [ln for ln in f if ln.split(maxsplit=1)[0] in keep]
        write_text(out / name, "".join(lines))
    for name in WHOLE:
        if (src / name).is_file():
            write_text(out / name, (src / name).read_text(encoding="utf-8"))
    utt2spk = out / "utt2spk"
    if utt2spk.is_file():
        spk2utt: Dict[str, List[str]] = {}
        for line in utt2spk.read_text(encoding="utf-8").splitlines():
            utt, spk = line.split()
            spk2utt.setdefault(spk, []).append(utt)
        _write(out / "spk2utt", [f"{s} {' '.join(u)}" for s, u in spk2utt.items()])


def merge(out_dir: str, nj: int) -> Dict[str, int]:
    """Join ``split<nj>/<j>`` parts into ``out_dir`` (scp files point into the parts);
    returns the counts of dumped and skipped. With one job the dump wrote straight to
    ``out_dir`` (there are no parts): nothing is joined, the counts are read back."""
    out = Path(out_dir)
    if nj == 1 and not (out / "split1" / "1").is_dir():
        if not (out / "skipped").is_file():
            raise DataError(f"{out}: dump job 1 of 1 has not run or not finished")
        return _counts(out, {f.name for f in out.iterdir() if f.is_file()})
    parts = [out / f"split{nj}" / str(j) for j in range(1, nj + 1)]
    for p in parts:
        if not (p / "skipped").is_file():  # the dump's last list: written when it is done
            raise DataError(f"{p}: dump job {p.name} of {nj} has not run or not finished")
    names = {
        f.name
        for p in parts
        for f in p.iterdir()
        if f.is_file() and f.suffix != ".ark" and not f.name.startswith(".")  # .x.tmp
    }
    names.discard("spk2utt")  # made again from the joined utt2spk: a speaker spans parts
    for name in COPIED + WHOLE + ["spk2utt"]:  # a file of an earlier dump no part has now
        if name not in names and (out / name).is_file():
            (out / name).unlink()
    for name in sorted(names):
        if name in WHOLE:  # the same in every part
            write_text(out / name, (parts[0] / name).read_text(encoding="utf-8"))
            continue
        lines: List[str] = []
        for p in parts:
            if (p / name).is_file():
                lines += (p / name).read_text(encoding="utf-8").splitlines()
        if name == "ctm":  # several lines an utterance: keep their order
            lines.sort(key=lambda x: x.split(maxsplit=1)[0])
            write_text(out / name, "".join(f"{x}\n" for x in lines))
        else:
            write_text(out / name, "".join(f"{x}\n" for x in sorted(lines)))
    if "utt2spk" in names:
        spk2utt: Dict[str, List[str]] = {}
        for line in (out / "utt2spk").read_text(encoding="utf-8").splitlines():
            utt, spk = line.split()
            spk2utt.setdefault(spk, []).append(utt)
        lines = [f"{s} {' '.join(spk2utt[s])}\n" for s in sorted(spk2utt)]
        write_text(out / "spk2utt", "".join(lines))
    return _counts(out, names)


def _counts(out: Path, names: set) -> Dict[str, int]:
    """{"dumped": lines of the shape file, "skipped": lines of ``skipped``} of ``out``."""
    counts = {"dumped": 0, "skipped": 0}
    for name in ("speech_shape", "feats_shape", "skipped"):
        if name in names:
            key = "skipped" if name == "skipped" else "dumped"
            counts[key] = len((out / name).read_text(encoding="utf-8").splitlines())
    return counts
