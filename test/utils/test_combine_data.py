"""utils/combine_data.sh."""

TEXTS_2 = {"spkD-001": "第二 部分", "spkD-002": "part two", "spkE-001": "完"}


def test_combine_two_dirs(run, make_data_dir, read, tmp_path):
    a = make_data_dir("a")
    b = make_data_dir("b", texts=TEXTS_2)
    dest = tmp_path / "all"
    r = run("combine_data.sh", dest, b, a)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"combine_data.sh: combined 9 utterances from 2 directories into {dest}\n"
        "fix_data_dir.sh: kept 9 utterances out of 9\n"
    )
    assert r.stderr == ""
    for name in ("text", "utt2spk", "wav.scp", "spk2utt"):
        assert read(dest / name) == sorted(read(a / name) + read(b / name)), name
    assert read(dest / "spk2utt")[-2:] == ["spkD spkD-001 spkD-002", "spkE spkE-001"]
    assert (dest / ".backup").is_dir()
    r = run("validate_data_dir.sh", dest)
    assert r.returncode == 0, r.stderr


def test_duplicate_utterance_with_different_contents(run, make_data_dir, tmp_path):
    a = make_data_dir("a")
    b = make_data_dir("b", texts={"spkA-002": "a different transcript", "spkF-001": "x"})
    r = run("combine_data.sh", tmp_path / "all", a, b)
    assert r.returncode == 1
    assert r.stderr == (
        f"combine_data.sh: text: key spkA-002 has different contents in {a}/text: line 2 "
        f"and {b}/text: line 1\n"
    )


def test_identical_duplicates_are_merged(run, make_data_dir, read, tmp_path):
    a = make_data_dir("a")
    b = make_data_dir("b", texts={"spkA-002": "hello world", "spkF-001": "x"})
    r = run("combine_data.sh", tmp_path / "all", a, b)
    assert r.returncode == 0, r.stderr
    assert len(read(tmp_path / "all/utt2spk")) == 7


def test_file_in_only_some_sources_is_left_out(run, make_data_dir, read, write, tmp_path):
    a = make_data_dir("a")
    b = make_data_dir("b", texts=TEXTS_2)
    write(a / "utt2dur", [f"{line.split()[0]} 1.5" for line in read(a / "utt2spk")])
    dest = tmp_path / "all"
    dest.mkdir()
    write(dest / "utt2dur", ["stale 1.0"])
    r = run("combine_data.sh", dest, a, b)
    assert r.returncode == 0, r.stderr
    assert r.stderr == (
        "combine_data.sh: warning: utt2dur is only in 1 of the 2 source directories "
        f"(not in {b}), so it is left out of {dest}\n"
    )
    assert not (dest / "utt2dur").exists()


def test_whole_recording_segments_for_sources_without_segments(run, make_data_dir, read, tmp_path):
    a = make_data_dir("a", segments=True)
    b = make_data_dir("b", texts=TEXTS_2)
    dest = tmp_path / "all"
    r = run("combine_data.sh", dest, a, b)
    assert r.returncode == 0, r.stderr
    assert read(dest / "segments") == read(a / "segments") + [
        "spkD-001 spkD-001 0 -1",
        "spkD-002 spkD-002 0 -1",
        "spkE-001 spkE-001 0 -1",
    ]
    assert read(dest / "wav.scp") == read(a / "wav.scp") + read(b / "wav.scp")
    assert not (dest / "reco2dur").exists()
    r = run("validate_data_dir.sh", dest)
    assert r.returncode == 0, r.stderr


def test_extra_files_and_skip_fix(run, make_data_dir, read, write, tmp_path):
    a = make_data_dir("a")
    b = make_data_dir("b", texts=TEXTS_2)
    write(a / "utt2lang", [f"{line.split()[0]} zh" for line in read(a / "utt2spk")])
    write(b / "utt2lang", ["spkD-001 en", "spkE-001 zh"])
    dest = tmp_path / "all"
    r = run("combine_data.sh", "--extra_files", "utt2lang", "--skip_fix", "true", dest, a, b)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"combine_data.sh: combined 9 utterances from 2 directories into {dest}\n"
    assert len(read(dest / "utt2lang")) == 8
    assert not (dest / ".backup").exists()
    # With the fix, spkD-002 (no utt2lang line) is dropped.
    r = run("combine_data.sh", "--extra-files", "utt2lang", dest, a, b)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2] == "fix_data_dir.sh: kept 8 utterances out of 9"
    assert read(dest / ".backup/removed_utts") == ["spkD-002"]


def test_errors(run, make_data_dir, tmp_path):
    a = make_data_dir("a")
    r = run("combine_data.sh", a, a)
    assert r.returncode == 1
    assert r.stderr == f"combine_data.sh: the destination {a} is also a source directory\n"
    r = run("combine_data.sh", tmp_path / "all", a, tmp_path / "missing")
    assert r.returncode == 1
    assert r.stderr == f"combine_data.sh: no such directory {tmp_path / 'missing'}\n"
    r = run("combine_data.sh", "--skip_fix", "maybe", tmp_path / "all", a)
    assert r.returncode == 1
    assert r.stderr == "combine_data.sh: option --skip_fix expects true or false, got 'maybe'\n"


def test_nothing_written_on_error(run, make_data_dir, write, tmp_path):
    a = make_data_dir("a")
    b = make_data_dir("b", texts=TEXTS_2)
    write(b / "wav.scp", ["spkA-001 /elsewhere/spkA-001.wav"])
    dest = tmp_path / "all"
    r = run("combine_data.sh", dest, a, b)
    assert r.returncode == 1
    assert r.stderr == (
        f"combine_data.sh: wav.scp: key spkA-001 has different contents in {a}/wav.scp: line 1 "
        f"and {b}/wav.scp: line 1\n"
    )
    assert not dest.exists()
