"""Decoding a data dir with bad clips, and the shapes Speech2Text takes, on the tiny
random-weight models (untrained: the answers are noise, the bookkeeping is the point)."""

import json

import numpy as np
import pytest
import soundfile

from osum.decode.data_dir import RESULTS, SKIPPED, decode_data, read_skipped
from osum.decode.speech2text import Speech2Text
from osum.dev.tiny_setup import tiny_config, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def s2t(tiny_dirs, tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("s2t") / "config.yaml", tiny_config(tiny_dirs))
    return Speech2Text(config, max_new_tokens=2, batch_size=2)


def data_dir(root, clips):
    """A wav.scp of ``clips`` {utt: samples, or None for a file that is not there}."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    lines = []
    for utt, n in sorted(clips.items()):
        path = root / f"{utt}.wav"
        if n is not None:
            soundfile.write(path, 0.1 * rng.standard_normal(n).astype(np.float32), 16000)
        lines.append(f"{utt} {path}\n")
    (root / "wav.scp").write_text("".join(lines))
    return [(str(root / "wav.scp"), "speech", "sound")]


CLIPS = {"a": 16000, "b": 100, "c": 8000, "d": None, "e": 0}


def test_clips_that_cannot_be_decoded_are_skipped_and_listed(s2t, tmp_path):
    data = data_dir(tmp_path / "data", CLIPS)
    out = decode_data(s2t, data, tmp_path / "out", task="ASR")
    skipped = read_skipped(out)
    assert sorted(skipped) == ["b", "d", "e"]
    assert "100 samples is too short" in skipped["b"] and "0 samples" in skipped["e"]
    assert "cannot read its audio" in skipped["d"] and "d.wav" in skipped["d"]
    assert [line.split()[0] for line in (out / "text").read_text().splitlines()] == ["a", "c"]
    assert [json.loads(x)["utt"] for x in (out / RESULTS).read_text().splitlines()] == ["a", "c"]
    assert json.loads((out / "decode_options.json").read_text())["task"] == "ASR"
    assert not list(out.glob(".*.tmp"))  # written through osum.files
    # run again: the decoded ones are kept, the bad ones tried and listed again
    again = decode_data(s2t, data, tmp_path / "out", task="ASR")
    assert read_skipped(again) == skipped


def test_merge_carries_the_skipped_lists(s2t, tmp_path):
    from osum.bin.merge_decodes import main as merge

    data = data_dir(tmp_path / "data", CLIPS)
    jobs = []
    for n, keys in enumerate((["a", "b"], ["c", "d", "e"]), 1):
        (tmp_path / f"keys.{n}").write_text("".join(f"{k} x\n" for k in keys))
        jobs.append(tmp_path / f"output.{n}")
        decode_data(s2t, data, jobs[-1], key_file=str(tmp_path / f"keys.{n}"), task="ASR")
    merge(["--out", str(tmp_path / "decode"), *map(str, jobs)])
    out = tmp_path / "decode"
    assert sorted(read_skipped(out)) == ["b", "d", "e"]
    listed = sorted(line for j in jobs for line in (j / SKIPPED).read_text().splitlines())
    assert (out / SKIPPED).read_text().splitlines() == listed
    assert len((out / "text").read_text().splitlines()) == 2
    assert (out / "decode_options.json").is_file() and not list(out.glob(".*.tmp"))
    with pytest.raises(FileNotFoundError, match="output.3: no such decode job dir"):
        merge(["--out", str(out), str(jobs[0]), str(tmp_path / "output.3")])


def test_a_stereo_array_is_one_utterance(s2t):
    rng = np.random.default_rng(1)
    left, right = 0.1 * rng.standard_normal((2, 8000)).astype(np.float32)
    alone = s2t((left + right) / 2, task="ASR")
    for stereo in (np.stack([left, right], axis=1), np.stack([left, right])):
        result = s2t(stereo, task="ASR")  # (samples, channels) and (channels, samples)
        assert not isinstance(result, list) and result.text == alone.text
    both = s2t([left, right], task="ASR")  # a batch is a list
    assert isinstance(both, list) and len(both) == 2


def test_chunks_longer_than_the_encoder_window_are_refused(tiny_dirs, tmp_path):
    config = write_config(tmp_path / "config.yaml", tiny_config(tiny_dirs))
    with pytest.raises(ValueError, match="chunk_seconds 40 is over the encoder's window of 30 s"):
        Speech2Text(config, chunk_seconds=40)
