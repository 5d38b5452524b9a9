"""Checks on the data files handed to ESPnet, with messages that name file, line and utterance."""

from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

from osum.data.audio import SAMPLE_RATE, audio_info

# ESPnet loader types whose file is a "key value..." text file
KEYED_TYPES = {
    "sound",
    "kaldi_ark",
    "npy",
    "text",
    "text_int",
    "text_float",
    "csv_int",
    "csv_float",
    "multi_columns_sound",
    "multi_columns_text",
    "soundscp",
}


def read_keys(path: str) -> List[str]:
    """First-column keys of a Kaldi-style file; errors name the file and line."""
    keys, seen = [], set()
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\n")
            except UnicodeDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid UTF-8 ({e.reason})") from None
            if not line.strip():
                raise ValueError(f"{path}:{lineno}: empty line")
            key = line.split(maxsplit=1)[0]
            if key in seen:
                raise ValueError(f"{path}:{lineno}: utterance {key} appears twice")
            seen.add(key)
            keys.append(key)
    if not keys:
        raise ValueError(f"{path}: no utterances")
    return keys


def _describe(ids: Iterable[str], limit: int = 5) -> str:
    ids = sorted(ids)
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


def check_data_keys(
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
    shape_files: Sequence[str] = (),
) -> None:
    """Every keyed data file and shape file must hold the same utterances."""
    files: Dict[str, List[str]] = {}
    for path, _name, kind in data_path_and_name_and_type:
        if kind in KEYED_TYPES:
            if not Path(path).is_file():
                raise FileNotFoundError(f"data file {path} does not exist")
            files[path] = read_keys(path)
    for path in shape_files:
        if not Path(path).is_file():
            raise FileNotFoundError(f"shape file {path} does not exist")
        files[path] = read_keys(path)
    if len(files) < 2:
        return
    (ref_path, ref_keys), *others = files.items()
    ref = set(ref_keys)
    for path, keys in others:
        got = set(keys)
        if got != ref:
            parts = []
            if ref - got:
                parts.append(f"missing {_describe(ref - got)} (listed in {ref_path})")
            if got - ref:
                parts.append(f"has {_describe(got - ref)} (not in {ref_path})")
            raise ValueError(
                f"{path}: utterance ids do not match {ref_path}: "
                + "; ".join(parts)
                + " (utils/fix_data_dir.sh keeps the common ones)"
            )


def check_sample_rate(wav_scp: str, rate: int = SAMPLE_RATE) -> None:
    """The first audio file of ``wav_scp`` must be at ``rate`` Hz.

    ESPnet's sound loader then refuses any later file whose rate differs from the first,
    so one header read checks the whole list.
    """
    with open(wav_scp, encoding="utf-8") as f:
        first = f.readline().split(maxsplit=1)
    if len(first) < 2:
        raise ValueError(f"{wav_scp}:1: expected '<utterance> <audio file>'")
    uid, path = first[0], first[1].strip()
    if not Path(path).is_file():
        return  # a command or an archive entry: the loader reports it
    try:
        got = audio_info(path).sample_rate
    except RuntimeError as e:
        raise ValueError(f"{wav_scp}:1: utterance {uid}: cannot read {path}: {e}") from None
    if got != rate:
        raise ValueError(
            f"{wav_scp}:1: utterance {uid}: {path} is {got} Hz; the model takes {rate} Hz "
            f"audio (convert it, e.g. sox IN -r {rate} -c 1 OUT)"
        )
