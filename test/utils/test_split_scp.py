"""utils/split_scp.pl."""

import pytest


@pytest.fixture
def scp(tmp_path, write):
    """7 lines; speakers a (3 utts), b (1), c (2), d (1)."""
    utts = ["a-1", "a-2", "a-3", "b-1", "c-1", "c-2", "d-1"]
    write(tmp_path / "in.scp", [f"{u} /wav/{u}.wav" for u in utts])
    write(tmp_path / "utt2spk", [f"{u} {u[0]}" for u in utts])
    return tmp_path / "in.scp"


def parts(read, tmp_path, n):
    return [[line.split()[0] for line in read(tmp_path / f"out{i}.scp")] for i in range(1, n + 1)]


def test_even_split_in_order(run, read, scp, tmp_path):
    outs = [tmp_path / f"out{i}.scp" for i in (1, 2, 3)]
    r = run("split_scp.pl", scp, *outs)
    assert r.returncode == 0, r.stderr
    assert parts(read, tmp_path, 3) == [["a-1", "a-2", "a-3"], ["b-1", "c-1"], ["c-2", "d-1"]]
    assert read(outs[0])[0] == "a-1 /wav/a-1.wav"


def test_one_line_per_part(run, read, scp, tmp_path):
    outs = [tmp_path / f"out{i}.scp" for i in range(1, 8)]
    assert run("split_scp.pl", scp, *outs).returncode == 0
    assert [len(read(o)) for o in outs] == [1] * 7


def test_j_form_prints_one_part(run, scp):
    r = run("split_scp.pl", "-j", "3", "1", scp)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "b-1 /wav/b-1.wav\nc-1 /wav/c-1.wav\n"
    r = run("split_scp.pl", "--one-based", "-j", "3", "3", scp)
    assert r.stdout == "c-2 /wav/c-2.wav\nd-1 /wav/d-1.wav\n"
    r = run("split_scp.pl", "-j", "3", "3", scp)
    assert r.returncode == 1
    assert r.stderr == "split_scp.pl: -j: job id out of range for 3 jobs\n"


def test_j_form_with_output_files(run, read, scp, tmp_path):
    outs = [tmp_path / f"out{i}.scp" for i in (1, 2)]
    r = run("split_scp.pl", "-j", "2", "1", scp, *outs)
    assert r.returncode == 0, r.stderr
    assert not outs[0].exists()
    assert [line.split()[0] for line in read(outs[1])] == ["c-1", "c-2", "d-1"]


def test_utt2spk_keeps_speakers_whole(run, read, scp, tmp_path):
    outs = [tmp_path / f"out{i}.scp" for i in (1, 2, 3)]
    r = run("split_scp.pl", "--utt2spk", tmp_path / "utt2spk", scp, *outs)
    assert r.returncode == 0, r.stderr
    assert parts(read, tmp_path, 3) == [["a-1", "a-2", "a-3"], ["b-1"], ["c-1", "c-2", "d-1"]]
    r = run("split_scp.pl", f"--utt2spk={tmp_path / 'utt2spk'}", scp, *outs[:2])
    assert r.returncode == 0, r.stderr
    # 3 + 4 and 4 + 3 lines are equally even; the earlier boundary wins.
    assert parts(read, tmp_path, 2) == [["a-1", "a-2", "a-3"], ["b-1", "c-1", "c-2", "d-1"]]


def test_utt2spk_errors(run, scp, tmp_path, write):
    outs = [tmp_path / f"out{i}.scp" for i in range(1, 6)]
    r = run("split_scp.pl", "--utt2spk", tmp_path / "utt2spk", scp, *outs)
    assert r.returncode == 1
    assert r.stderr == (
        f"split_scp.pl: cannot split {scp} into 5 parts without splitting speakers: "
        f"it has only 4 speakers (per {tmp_path / 'utt2spk'})\n"
    )
    write(tmp_path / "u2s", ["a-1 a", "b-1 b", "a-2 a"])
    write(tmp_path / "mixed.scp", ["a-1 x", "b-1 y", "a-2 z"])
    r = run("split_scp.pl", "--utt2spk", tmp_path / "u2s", tmp_path / "mixed.scp", *outs[:2])
    assert r.returncode == 1
    assert r.stderr.startswith(
        f"split_scp.pl: {tmp_path / 'mixed.scp'}: line 3: the lines of speaker a are not contiguous"
    )
    write(tmp_path / "u2s", ["a-1 a"])
    r = run("split_scp.pl", "--utt2spk", tmp_path / "u2s", tmp_path / "mixed.scp", *outs[:2])
    assert r.returncode == 1
    assert r.stderr == (
        f"split_scp.pl: {tmp_path / 'mixed.scp'}: line 2: "
        f"utterance b-1 is not in {tmp_path / 'u2s'}\n"
    )


def test_more_outputs_than_lines(run, tmp_path, write):
    write(tmp_path / "small.scp", ["u1 a", "u2 b"])
    outs = [tmp_path / f"out{i}.scp" for i in (1, 2, 3)]
    r = run("split_scp.pl", tmp_path / "small.scp", *outs)
    assert r.returncode == 1
    assert (
        r.stderr == f"split_scp.pl: cannot split {tmp_path / 'small.scp'} into 3 parts: "
        "it has only 2 lines\n"
    )
    assert not outs[0].exists()


def test_missing_final_newline_is_added(run, tmp_path):
    (tmp_path / "in.scp").write_text("u1 a\nu2 b")
    r = run("split_scp.pl", tmp_path / "in.scp", tmp_path / "o1", tmp_path / "o2")
    assert r.returncode == 0
    assert (tmp_path / "o2").read_text() == "u2 b\n"
