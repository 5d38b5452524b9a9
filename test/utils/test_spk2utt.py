"""utils/utt2spk_to_spk2utt.pl and utils/spk2utt_to_utt2spk.pl."""


def test_utt2spk_to_spk2utt_first_appearance_order(run):
    r = run("utt2spk_to_spk2utt.pl", input="u3 s2\nu1 s1\nu4 s2\nu2 s1\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "s2 u3 u4\ns1 u1 u2\n"


def test_round_trip_on_data_dir(run, make_data_dir, read):
    d = make_data_dir()
    r = run("utt2spk_to_spk2utt.pl", d / "utt2spk")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == read(d / "spk2utt")
    r = run("spk2utt_to_utt2spk.pl", d / "spk2utt")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == read(d / "utt2spk")


def test_several_files(run, tmp_path, write):
    write(tmp_path / "a", ["u1 s1"])
    write(tmp_path / "b", ["u2 s2", "u3 s1"])
    r = run("utt2spk_to_spk2utt.pl", tmp_path / "a", tmp_path / "b")
    assert r.stdout == "s1 u1 u3\ns2 u2\n"


def test_spk2utt_to_utt2spk(run):
    r = run("spk2utt_to_utt2spk.pl", input="s2 u3 u4\ns1 u1\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "u3 s2\nu4 s2\nu1 s1\n"


def test_bad_lines_name_file_and_line(run, tmp_path, write):
    write(tmp_path / "a", ["u1 s1"])
    write(tmp_path / "utt2spk", ["u1 s1", "u2 s1 extra"])
    r = run("utt2spk_to_spk2utt.pl", tmp_path / "a", tmp_path / "utt2spk")
    assert r.returncode == 1
    assert r.stderr == (
        f"utt2spk_to_spk2utt.pl: {tmp_path / 'utt2spk'}: line 2: "
        "expected '<utt-id> <spk-id>', got 'u2 s1 extra'\n"
    )
    write(tmp_path / "spk2utt", ["s1 u1", "s2"])
    r = run("spk2utt_to_utt2spk.pl", tmp_path / "spk2utt")
    assert r.returncode == 1
    assert r.stderr == (
        f"spk2utt_to_utt2spk.pl: {tmp_path / 'spk2utt'}: line 2: "
        "expected '<spk-id> <utt-id1> [<utt-id2> ...]', got 's2'\n"
    )
