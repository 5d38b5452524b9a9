"""Shared helpers for the tests of the Kaldi-style scripts under utils/."""

import os
import subprocess
import sys
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


# osum's task files for the utterances of TEXTS (osum/data/task_files.py): an SER utterance
# with its emotion, an SRWT one with its word times (in time order, which is not the order
# of the lines as text: "10.20" < "9.50"), a question, and ASR for the rest.
TASKS = {"spkA-001": "SER", "spkB-002": "SRWT"}
CTM = ["spkB-002 9.50 0.40 语音", "spkB-002 10.20 0.50 识别"]


@pytest.fixture
def add_tasks():
    """add_tasks(d, tasks=TASKS, ctm=CTM, corpus="Corpus A", info=True): writes utt2task
    (ASR where ``tasks`` does not say), utt2emotion, ctm, utt2question, utt2dur (12 s,
    for the word times), corpus and, with ``info``, utt2taskinfo as
    osum.bin.prepare_task_info writes it (just the task)."""

    def add(d, tasks=None, ctm=None, corpus="Corpus A", info=True):
        tasks = TASKS if tasks is None else tasks
        utts = [line.split()[0] for line in read_lines(d / "utt2spk")]
        task = {u: tasks.get(u, "ASR") for u in utts}
        write_lines(d / "utt2task", [f"{u} {task[u]}" for u in utts])
        write_lines(d / "utt2dur", [f"{u} 12.0" for u in utts])
        write_lines(d / "utt2emotion", [f"{u} happy" for u in utts if task[u] == "SER"])
        write_lines(d / "utt2question", [f"{utts[-1]} what is said?"])
        write_lines(d / "ctm", CTM if ctm is None else ctm)
        if corpus:
            write_lines(d / "corpus", [corpus])
        if info:
            write_lines(d / "utt2taskinfo", [f'{u} {{"task": "{task[u]}"}}' for u in utts])
        return d

    return add


@pytest.fixture
def osum_env():
    """The environment with this interpreter's bin first on PATH, so that the scripts'
    python3 imports osum (validate_data_dir.sh's task checks)."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
