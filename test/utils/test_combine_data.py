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


def test_task_files_are_carried(run, make_data_dir, add_tasks, read, osum_env, tmp_path):
    """Every task file reaches the result (no utterance quietly becomes ASR), ctm with
    all its lines (naming it in --extra_files used to fail: several lines an utterance),
    and the result validates."""
    a = add_tasks(make_data_dir("a"))
    b = add_tasks(
        make_data_dir("b", texts=TEXTS_2),
        tasks={"spkD-001": "SRWT", "spkE-001": "SER"},
        ctm=["spkD-001 9.00 1.00 第二", "spkD-001 10.50 0.50 部分"],
        corpus="Corpus B",
    )
    dest = tmp_path / "all"
    r = run("combine_data.sh", "--extra_files", "ctm utt2emotion", dest, b, a, env=osum_env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "fix_data_dir.sh: kept 9 utterances out of 9"
    for name in ("utt2task", "utt2taskinfo", "utt2emotion", "utt2question"):
        assert read(dest / name) == sorted(read(a / name) + read(b / name)), name
    assert read(dest / "utt2emotion") == ["spkA-001 happy", "spkE-001 happy"]
    assert read(dest / "ctm") == read(a / "ctm") + read(b / "ctm")  # B < D; words in order
    assert read(dest / "corpus") == ["Corpus B + Corpus A"]
    r = run("validate_data_dir.sh", dest, env=osum_env)
    assert r.returncode == 0, r.stderr


def test_a_source_without_utt2task_is_asr(run, make_data_dir, add_tasks, read, tmp_path):
    """utt2task is filled in with ASR (what no utt2task means) for a source without one;
    the label files and ctm are the union; corpus in only some sources is left out."""
    a = add_tasks(make_data_dir("a"), info=False)
    b = make_data_dir("b", texts=TEXTS_2)
    dest = tmp_path / "all"
    r = run("combine_data.sh", dest, a, b)
    assert r.returncode == 0, r.stderr
    assert r.stderr == (
        f"combine_data.sh: warning: utt2dur is only in 1 of the 2 source directories (not in "
        f"{b}), so it is left out of {dest}\n"
        f"combine_data.sh: {b} has no utt2task; its utterances are ASR (as without one)\n"
        f"combine_data.sh: warning: corpus is only in 1 of the 2 source directories (not in "
        f"{b}), so it is left out of {dest}\n"
    )
    assert read(dest / "utt2task") == read(a / "utt2task") + [
        "spkD-001 ASR",
        "spkD-002 ASR",
        "spkE-001 ASR",
    ]
    assert read(dest / "utt2emotion") == read(a / "utt2emotion")
    assert read(dest / "ctm") == read(a / "ctm")
    assert not (dest / "corpus").exists()


def test_task_info_in_only_some_sources_is_an_error(run, make_data_dir, add_tasks, tmp_path):
    a = add_tasks(make_data_dir("a"))
    b = add_tasks(make_data_dir("b", texts=TEXTS_2), info=False)
    dest = tmp_path / "all"
    r = run("combine_data.sh", dest, a, b)
    assert r.returncode == 1
    assert r.stderr == (
        f"combine_data.sh: utt2taskinfo is in {a} but not in {b}: make it there (python -m "
        "osum.bin.prepare_task_info <dir>) or remove it from every source, so that each "
        f"utterance of {dest} has one\n"
    )
    assert not dest.exists()


def test_one_utterance_with_different_word_times_is_an_error(
    run, make_data_dir, add_tasks, tmp_path
):
    a = add_tasks(make_data_dir("a"))
    b = add_tasks(make_data_dir("b"), ctm=["spkB-002 9.50 0.40 语音", "spkB-002 10.30 0.50 识别"])
    r = run("combine_data.sh", tmp_path / "all", a, b)
    assert r.returncode == 1
    assert r.stderr == (
        f"combine_data.sh: ctm: utterance spkB-002 has different word lines in {a}/ctm and "
        f"{b}/ctm\n"
    )
