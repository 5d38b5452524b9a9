"""utils/fix_data_dir.sh."""


def snapshot(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def test_valid_dir_is_unchanged(run, make_data_dir):
    d = make_data_dir()
    before = snapshot(d)
    r = run("fix_data_dir.sh", d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "fix_data_dir.sh: kept 6 utterances out of 6\n"
    assert snapshot(d) == before
    assert (d / ".backup/removed_utts").read_text() == ""
    assert snapshot(d / ".backup") == {**before, "removed_utts": b""}


def test_removes_incomplete_utterances(run, make_data_dir, read, write):
    d = make_data_dir()
    original = {name: read(d / name) for name in ("text", "utt2spk", "wav.scp", "spk2utt")}
    # text: spkB-002 missing and out of order; wav.scp: an extra recording and spkC-001 missing;
    # utt2spk: a duplicate line and an utterance that nothing else has.
    text = [line for line in original["text"] if not line.startswith("spkB-002")]
    write(d / "text", text[::-1])
    write(
        d / "wav.scp",
        [w for w in original["wav.scp"] if not w.startswith("spkC-001")] + ["spkZ-001 z.wav"],
    )
    write(d / "utt2spk", original["utt2spk"] + ["spkA-001 spkA", "spkD-001 spkD"])
    r = run("fix_data_dir.sh", d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        f"fix_data_dir.sh: {d}/utt2spk: removed 3 line(s)\n"
        f"fix_data_dir.sh: {d}/text: removed 1 line(s)\n"
        f"fix_data_dir.sh: {d}/wav.scp: removed 2 line(s)\n"
        "fix_data_dir.sh: kept 4 utterances out of 7\n"
        f"fix_data_dir.sh: the ids of the 3 removed utterances are in {d}/.backup/removed_utts\n"
    )
    kept = ["spkA-001", "spkA-002", "spkB-001", "spkC-002"]
    assert read(d / "utt2spk") == [line for line in original["utt2spk"] if line.split()[0] in kept]
    assert read(d / "text") == [line for line in original["text"] if line.split()[0] in kept]
    assert read(d / "wav.scp") == [line for line in original["wav.scp"] if line.split()[0] in kept]
    assert read(d / "spk2utt") == ["spkA spkA-001 spkA-002", "spkB spkB-001", "spkC spkC-002"]
    assert read(d / ".backup/removed_utts") == ["spkB-002", "spkC-001", "spkD-001"]
    assert read(d / ".backup/text") == text[::-1]
    assert read(d / ".backup/spk2utt") == original["spk2utt"]
    r = run("validate_data_dir.sh", d)
    assert r.returncode == 0, r.stderr


def test_segments_and_recordings(run, make_data_dir, read, write):
    d = make_data_dir(segments=True)
    segments = read(d / "segments")
    # Both utterances of spkB are gone from text, so recording spkB-rec is unused.
    write(d / "text", [line for line in read(d / "text") if not line.startswith("spkB")])
    write(d / "reco2dur", read(d / "reco2dur") + ["spkZ-rec 1.0"])
    write(d / "spk2gender", ["spkA f", "spkB m", "spkC f"])
    r = run("fix_data_dir.sh", d)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2] == "fix_data_dir.sh: kept 4 utterances out of 6"
    assert read(d / "segments") == [s for s in segments if not s.startswith("spkB")]
    assert read(d / "wav.scp") == [
        "spkA-rec /corpus/wav/spkA-rec.wav",
        "spkC-rec /corpus/wav/spkC-rec.wav",
    ]
    assert read(d / "reco2dur") == ["spkA-rec 10.00", "spkC-rec 10.00"]
    assert read(d / "spk2gender") == ["spkA f", "spkC f"]
    assert read(d / "spk2utt") == ["spkA spkA-001 spkA-002", "spkC spkC-001 spkC-002"]
    assert run("validate_data_dir.sh", d).returncode == 0


def test_segment_with_unknown_recording_is_removed(run, make_data_dir, read, write):
    d = make_data_dir(segments=True)
    write(d / "wav.scp", [line for line in read(d / "wav.scp") if not line.startswith("spkC")])
    r = run("fix_data_dir.sh", d)
    assert r.returncode == 0, r.stderr
    assert read(d / ".backup/removed_utts") == ["spkC-001", "spkC-002"]
    assert read(d / "reco2dur") == ["spkA-rec 10.00", "spkB-rec 10.00"]


def test_utt_extra_files(run, make_data_dir, read, write):
    d = make_data_dir()
    write(d / "utt2emotion", ["spkA-001 happy", "spkC-002 sad"])
    r = run("fix_data_dir.sh", "--utt_extra_files", "utt2emotion", d)
    assert r.returncode == 0, r.stderr
    assert read(d / "utt2spk") == ["spkA-001 spkA", "spkC-002 spkC"]
    r = run("fix_data_dir.sh", "--utt-extra-files", "utt2emotion", d)
    assert r.stdout == "fix_data_dir.sh: kept 2 utterances out of 2\n"


def test_conflicting_duplicate_is_an_error(run, make_data_dir, read, write):
    d = make_data_dir()
    write(d / "text", read(d / "text") + ["spkA-002 another transcript"])
    before = snapshot(d)
    r = run("fix_data_dir.sh", d)
    assert r.returncode == 1
    assert r.stderr == (
        f"fix_data_dir.sh: {d}/text: key spkA-002 appears on two different lines; "
        "fix that by hand (it cannot tell which one is right)\n"
    )
    assert snapshot(d) == before


def test_nothing_left_changes_nothing(run, make_data_dir, write):
    d = make_data_dir()
    write(d / "feats.scp", ["other-001 a.ark:1"])
    before = snapshot(d)
    r = run("fix_data_dir.sh", d)
    assert r.returncode == 1
    assert r.stderr.startswith(
        f"fix_data_dir.sh: no utterance of {d}/utt2spk is in all of the files"
    )
    assert snapshot(d) == before


def test_bad_usage(run, make_data_dir, tmp_path):
    d = make_data_dir()
    r = run("fix_data_dir.sh", "--no-such", "x", d)
    assert r.returncode == 1
    assert r.stderr == "fix_data_dir.sh: invalid option --no_such\n"
    r = run("fix_data_dir.sh", tmp_path / "nope")
    assert r.returncode == 1
    assert r.stderr == f"fix_data_dir.sh: no such directory {tmp_path / 'nope'}\n"


def test_task_files(run, make_data_dir, add_tasks, read, write):
    """The task files are filtered to the kept utterances (utt2question too, which was
    left stale), ctm in word order; naming ctm in --utt_extra_files (as combine_data.sh
    passes its --extra_files) no longer fails on its several lines an utterance."""
    d = add_tasks(make_data_dir())
    write(d / "utt2question", ["spkA-001 who?", "spkB-002 what?"])
    write(d / "text", [line for line in read(d / "text") if not line.startswith("spkB-002")])
    ctm, corpus = read(d / "ctm"), read(d / "corpus")
    r = run("fix_data_dir.sh", "--utt_extra_files", "ctm corpus", d)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-2] == "fix_data_dir.sh: kept 5 utterances out of 6"
    assert read(d / "utt2question") == ["spkA-001 who?"]
    assert read(d / "ctm") == [] and read(d / ".backup/ctm") == ctm
    assert "spkB-002" not in " ".join(read(d / "utt2task") + read(d / "utt2taskinfo"))
    assert read(d / "utt2emotion") == ["spkA-001 happy"] and read(d / "corpus") == corpus
    r = run("validate_data_dir.sh", d)
    assert r.returncode == 0, r.stderr
