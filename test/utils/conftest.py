"""Shared helpers for the tests of the Kaldi-style scripts under utils/."""

import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
UTILS = REPO / "utils"

# 3 speakers x 2 utterances; utterance ids are prefixed by their speaker id.
TEXTS = {
    "spkA-001": "你好 世界",
    "spkA-002": "hello world",
    "spkB-001": "今天 天气 很 好",
    "spkB-002": "语音 识别",
    "spkC-001": "good morning",
    "spkC-002": "再见",
}


def run_script(name, *args, cwd=None, env=None, input=None):
    """Runs utils/<name> with the given arguments; returns the CompletedProcess (text mode)."""
    return subprocess.run(
        [str(UTILS / name), *map(str, args)],
        cwd=cwd,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_lines(path, lines):
    Path(path).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def read_lines(path):
    return Path(path).read_text(encoding="utf-8").splitlines()


@pytest.fixture
def run():
    return run_script


@pytest.fixture
def make_data_dir(tmp_path):
    """make_data_dir(name="data", texts=TEXTS, segments=False) -> Path of a valid data dir.

    Writes wav.scp, text, utt2spk and spk2utt; with segments=True every speaker has one
    recording "<spk>-rec" holding both of its utterances, and segments and reco2dur are
    written too.
    """

    def make(name="data", texts=None, segments=False):
        texts = dict(TEXTS if texts is None else texts)
        d = tmp_path / name
        d.mkdir(parents=True)
        utts = sorted(texts)
        spk = {u: u.split("-")[0] for u in utts}
        write_lines(d / "text", [f"{u} {texts[u]}" for u in utts])
        write_lines(d / "utt2spk", [f"{u} {spk[u]}" for u in utts])
        spk2utt = {}
        for u in utts:
            spk2utt.setdefault(spk[u], []).append(u)
        write_lines(d / "spk2utt", [" ".join([s, *spk2utt[s]]) for s in sorted(spk2utt)])
        if segments:
            recos = sorted({f"{s}-rec" for s in spk.values()})
            write_lines(d / "wav.scp", [f"{r} /corpus/wav/{r}.wav" for r in recos])
            write_lines(d / "reco2dur", [f"{r} 10.00" for r in recos])
            seg_lines = []
            for s in sorted(spk2utt):
                for i, u in enumerate(spk2utt[s]):
                    seg_lines.append(f"{u} {s}-rec {i * 2.5:.2f} {i * 2.5 + 2.0:.2f}")
            write_lines(d / "segments", sorted(seg_lines))
        else:
            write_lines(d / "wav.scp", [f"{u} /corpus/wav/{u}.wav" for u in utts])
        return d

    return make


@pytest.fixture
def read():
    """read(path) -> list of the lines of a UTF-8 file, without newlines."""
    return read_lines


@pytest.fixture
def write():
    """write(path, lines) writes the lines, each followed by a newline, as UTF-8."""
    return write_lines
