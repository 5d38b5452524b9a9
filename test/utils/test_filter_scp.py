"""utils/filter_scp.pl."""

import pytest


@pytest.fixture
def files(tmp_path, write):
    write(tmp_path / "ids", ["u1 whatever", "", "u3"])
    write(tmp_path / "in.scp", ["u1 a.wav", "u2 b.wav", "u3 c.wav", "u4 d.wav"])
    return tmp_path / "ids", tmp_path / "in.scp"


def test_keep(run, files):
    r = run("filter_scp.pl", *files)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "u1 a.wav\nu3 c.wav\n"


def test_exclude(run, files):
    r = run("filter_scp.pl", "--exclude", *files)
    assert r.stdout == "u2 b.wav\nu4 d.wav\n"


def test_field_and_stdin(run, files):
    ids, _ = files
    data = "a u3 x\nb u2 y\nc u1 z\n"
    r = run("filter_scp.pl", "-f", "2", ids, input=data)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "a u3 x\nc u1 z\n"
    r = run("filter_scp.pl", "-f", "-1", ids, input="x u1\ny u3 z\n")
    assert r.stdout == "x u1\n"


def test_short_line_is_an_error(run, files, tmp_path, write):
    ids, _ = files
    write(tmp_path / "bad.scp", ["a u1", "b"])
    r = run("filter_scp.pl", "-f", "2", ids, tmp_path / "bad.scp")
    assert r.returncode == 1
    assert r.stderr == f"filter_scp.pl: {tmp_path / 'bad.scp'}: line 2: no field 2 in 'b'\n"


def test_missing_id_list(run, tmp_path):
    r = run("filter_scp.pl", tmp_path / "nope", input="")
    assert r.returncode == 1
    assert r.stderr.startswith(f"filter_scp.pl: cannot open id list {tmp_path / 'nope'}")
