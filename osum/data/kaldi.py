"""Kaldi data dirs: their tables (``<key> <value>`` lines, ``ctm``), their utterances and
durations; every error names the file and line."""

import math
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Tuple

from osum.data.audio import AudioReader, entry_duration


class DataError(ValueError):
    """A problem in a data dir; the message names the file and line."""


def read_table(path: Path) -> Dict[str, Tuple[str, int]]:
    """``<key> <value...>`` lines -> {key: (value, line number)}; names file:line on errors."""
    out: Dict[str, Tuple[str, int]] = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                raise DataError(f"{path}:{lineno}: not valid UTF-8") from None
            parts = line.split(maxsplit=1)
            if not parts:
                raise DataError(f"{path}:{lineno}: empty line")
            if parts[0] in out:
                raise DataError(f"{path}:{lineno}: {parts[0]} repeats line {out[parts[0]][1]}")
            out[parts[0]] = (parts[1].strip() if len(parts) > 1 else "", lineno)
    return out


def read_ctm(path: Path) -> Dict[str, List[Tuple[float, float, str, int]]]:
    """{utt: [(start, end, word, line number), ...]} in file order."""
    out: Dict[str, List[Tuple[float, float, str, int]]] = defaultdict(list)
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                parts = raw.decode("utf-8").split()
            except UnicodeDecodeError:
                raise DataError(f"{path}:{lineno}: not valid UTF-8") from None
            if len(parts) == 4:
                utt, start, dur, word = parts
            elif len(parts) in (5, 6):
                utt, _channel, start, dur, word = parts[:5]
            else:
                raise DataError(f"{path}:{lineno}: expected '<utt> <start> <dur> <word>'")
            try:
                s, d = float(start), float(dur)
            except ValueError:
                raise DataError(f"{path}:{lineno}: start/duration are not numbers") from None
            if not (math.isfinite(s) and math.isfinite(d)) or s < 0 or d <= 0:
                raise DataError(f"{path}:{lineno}: start must be >= 0 and duration > 0")
            out[utt].append((s, s + d, word, lineno))
    return dict(out)


def read_segments(path: Path) -> Dict[str, Tuple[str, float, float]]:
    """``<utt> <recording> <start> <end>`` lines -> {utt: (recording, start s, end s)}
    (end -1: to the end of the recording); errors name the file and line."""
    out = {}
    for utt, (value, lineno) in read_table(path).items():
        fields = value.split()
        try:
            reco, start, end = fields[0], float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            raise DataError(
                f"{path}:{lineno}: expected '<utt> <recording> <start> <end>' for {utt}"
            ) from None
        out[utt] = (reco, start, end)
    return out


def durations(data_dir: Path) -> Dict[str, float]:
    """Seconds per utterance: utt2dur, else segments, else the audio headers in wav.scp."""
    data_dir = Path(data_dir)
    if (data_dir / "utt2dur").is_file():
        return {k: float(v) for k, (v, _) in read_table(data_dir / "utt2dur").items()}
    if (data_dir / "segments").is_file():
        out, whole = {}, {}
        for utt, (reco, start, end) in read_segments(data_dir / "segments").items():
            if end < 0:  # to the end of the recording
                whole[utt] = (reco, start)
            else:
                out[utt] = end - start
        if whole:
            wav = read_table(data_dir / "wav.scp")
            recos = _audio_durations(data_dir, {r: wav[r] for r, _ in whole.values() if r in wav})
            out.update({u: max(0.0, recos.get(r, 0.0) - s) for u, (r, s) in whole.items()})
        return out
    return _audio_durations(data_dir, read_table(data_dir / "wav.scp"))


def _audio_durations(data_dir: Path, wav: Dict[str, tuple]) -> Dict[str, float]:
    """Seconds per entry of ``wav`` {id: (wav.scp entry, line)}, from headers or decoded."""
    out = {}
    reader = AudioReader()  # keeps the last recording decoded
    for utt, (path, lineno) in wav.items():
        try:
            out[utt] = entry_duration(path, reader)
        except RuntimeError as e:
            raise DataError(f"{data_dir / 'wav.scp'}:{lineno}: cannot read {path}: {e}") from None
    return out


def utterances(data_dir: Path) -> List[Tuple[str, str, float, float | None]]:
    """(utt, audio path, start s, end s or None) for every utterance of utt2spk."""
    wav = {k: v for k, (v, _) in read_table(data_dir / "wav.scp").items()}
    utts = read_table(data_dir / "utt2spk")
    out = []
    if (data_dir / "segments").is_file():
        for utt, (reco, start, end) in read_segments(data_dir / "segments").items():
            if utt in utts:
                out.append((utt, wav.get(reco, ""), start, end))
    else:
        out = [(utt, wav.get(utt, ""), 0.0, None) for utt in utts]
    return sorted(out)
