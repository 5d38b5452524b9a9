"""utils/validate_data_dir.sh."""

import pytest


def ok_message(d):
    return f"validate_data_dir.sh: Successfully validated data-directory {d}\n"


def validate(run, d, *opts):
    return run("validate_data_dir.sh", *opts, d)


def assert_error(r, message):
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr == f"validate_data_dir.sh: {message}\n"


def test_valid_dir(run, make_data_dir):
    d = make_data_dir()
    r = validate(run, d)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ok_message(d)
    assert r.stderr == ""


def test_valid_dir_with_segments_and_more(run, make_data_dir, write, read):
    d = make_data_dir(segments=True)
    utts = [line.split()[0] for line in read(d / "utt2spk")]
    write(d / "feats.scp", [f"{u} feats.ark:{i * 100}" for i, u in enumerate(utts)])
    write(d / "utt2num_frames", [f"{u} 200" for u in utts])
    write(d / "utt2dur", [f"{u} 2.0" for u in utts])
    write(d / "utt2lang", [f"{u} zh" for u in utts])
    write(d / "spk2gender", ["spkA f", "spkB m", "spkC f"])
    r = validate(run, d, "--extra-files", "utt2lang")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ok_message(d)


def test_c_locale_order(run, make_data_dir):
    # "B" < "a" in the C locale, not in most others.
    d = make_data_dir(texts={"B-1": "x", "B-2": "y", "a-1": "z"})
    r = validate(run, d)
    assert r.returncode == 0, r.stderr


def test_missing_utt2spk(run, make_data_dir):
    d = make_data_dir()
    (d / "utt2spk").unlink()
    assert_error(validate(run, d), f"no such file {d}/utt2spk")


def test_missing_spk2utt(run, make_data_dir):
    d = make_data_dir()
    (d / "spk2utt").unlink()
    r = validate(run, d)
    assert r.returncode == 1
    assert r.stderr.startswith(f"validate_data_dir.sh: no such file {d}/spk2utt")


def test_unsorted_text(run, make_data_dir, read, write):
    d = make_data_dir()
    lines = read(d / "text")
    lines[1], lines[2] = lines[2], lines[1]
    write(d / "text", lines)
    assert_error(
        validate(run, d),
        f"{d}/text: line 3: not sorted (LC_ALL=C sort -k1,1): spkA-002 comes after spkB-001",
    )


def test_duplicate_key(run, make_data_dir, read, write):
    d = make_data_dir()
    lines = read(d / "wav.scp")
    write(d / "wav.scp", lines[:2] + [lines[1].replace(".wav", "_copy.wav")] + lines[2:])
    assert_error(validate(run, d), f"{d}/wav.scp: line 3: duplicate key spkA-002")


def test_text_missing_utterance(run, make_data_dir, read, write):
    d = make_data_dir()
    write(d / "text", [line for line in read(d / "text") if not line.startswith("spkB-002")])
    assert_error(
        validate(run, d),
        f"{d}/text: utterance spkB-002 of {d}/utt2spk is missing "
        "(1 utterance(s) missing from text)",
    )
    r = validate(run, d, "--no-text")
    assert r.returncode == 0, r.stderr


def test_feats_extra_utterance(run, make_data_dir, read, write):
    d = make_data_dir()
    utts = [line.split()[0] for line in read(d / "utt2spk")]
    write(d / "feats.scp", [f"{u} f.ark:1" for u in utts + ["spkD-001"]])
    assert_error(
        validate(run, d),
        f"{d}/feats.scp: utterance spkD-001 is not in {d}/utt2spk "
        "(1 utterance(s) only in feats.scp)",
    )
    assert validate(run, d, "--no-feats").returncode == 0


def test_wav_scp_must_match_without_segments(run, make_data_dir, read, write):
    d = make_data_dir()
    write(d / "wav.scp", read(d / "wav.scp")[1:])
    assert_error(
        validate(run, d),
        f"{d}/wav.scp: utterance spkA-001 of {d}/utt2spk is missing "
        "(1 utterance(s) missing from wav.scp)",
    )
    assert validate(run, d, "--no-wav").returncode == 0


def test_spk2utt_mismatch(run, make_data_dir, write):
    d = make_data_dir()
    write(d / "spk2utt", ["spkA spkA-001 spkA-002", "spkB spkB-001", "spkC spkC-001 spkC-002"])
    assert_error(
        validate(run, d),
        f"{d}/spk2utt: line 2: the utterances of speaker spkB do not match {d}/utt2spk "
        "(expected: spkB-001 spkB-002)",
    )


def test_speaker_prefix_order(run, make_data_dir, write):
    d = make_data_dir(texts={"u1": "a", "u2": "b", "u3": "c"})
    write(d / "utt2spk", ["u1 sB", "u2 sA", "u3 sB"])
    write(d / "spk2utt", ["sA u2", "sB u1 u3"])
    assert_error(
        validate(run, d),
        f"{d}/utt2spk: not in the same order when sorted on the speaker: utterance u2 (speaker sA) "
        "would come before u1 (speaker sB); make the speaker ids prefixes of the utterance ids, "
        "or use --no-spk-sort",
    )
    r = validate(run, d, "--no-spk-sort")
    assert r.returncode == 0, r.stderr


def test_invalid_utf8_in_text(run, make_data_dir):
    d = make_data_dir()
    data = (d / "text").read_bytes().split(b"\n")
    data[2] = b"spkB-001 \xe4\xbb\x8a\xe5 broken"
    (d / "text").write_bytes(b"\n".join(data))
    r = validate(run, d)
    assert r.returncode == 1
    assert r.stderr.startswith(
        f"validate_data_dir.sh: {d}/text: line 3: invalid UTF-8 in the text of utterance spkB-001"
    )


def test_segments_unknown_recording(run, make_data_dir, read, write):
    d = make_data_dir(segments=True)
    write(d / "wav.scp", [line for line in read(d / "wav.scp") if not line.startswith("spkB")])
    write(d / "reco2dur", [line for line in read(d / "reco2dur") if not line.startswith("spkB")])
    assert_error(
        validate(run, d),
        f"{d}/segments: line 3: recording spkB-rec of utterance spkB-001 is not in {d}/wav.scp",
    )


def test_unused_recording_is_a_warning(run, make_data_dir, read, write):
    d = make_data_dir(segments=True)
    write(d / "wav.scp", read(d / "wav.scp") + ["spkZ-rec /corpus/z.wav"])
    write(d / "reco2dur", read(d / "reco2dur") + ["spkZ-rec 3.5"])
    r = validate(run, d)
    assert r.returncode == 0, r.stderr
    assert "warning: 1 recording(s)" in r.stderr and "spkZ-rec" in r.stderr


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "spkA-002 spkA-rec 2.5",
            "expected '<utt-id> <recording-id> <start> <end>', got 3 field(s) for spkA-002",
        ),
        ("spkA-002 spkA-rec 2.5 2.0", "bad times 2.5 2.0 for utterance spkA-002"),
        ("spkA-002 spkA-rec x 3", "bad number 'x' for spkA-002"),
    ],
)
def test_bad_segments_line(run, make_data_dir, read, write, line, message):
    d = make_data_dir(segments=True)
    lines = read(d / "segments")
    lines[1] = line
    write(d / "segments", lines)
    assert_error(validate(run, d), f"{d}/segments: line 2: {message}")


def test_whole_recording_segment_end(run, make_data_dir, read, write):
    d = make_data_dir(segments=True)
    lines = read(d / "segments")
    lines[1] = "spkA-002 spkA-rec 2.5 -1"
    write(d / "segments", lines)
    assert validate(run, d).returncode == 0


def test_extra_file_checked(run, make_data_dir, read, write):
    d = make_data_dir()
    write(d / "utt2lang", [f"{line.split()[0]} zh" for line in read(d / "utt2spk")][:-1])
    assert_error(
        validate(run, d, "--extra-files", "utt2lang"),
        f"{d}/utt2lang: utterance spkC-002 of {d}/utt2spk is missing "
        "(1 utterance(s) missing from utt2lang)",
    )
    (d / "utt2lang").unlink()
    assert_error(
        validate(run, d, "--extra-files", "utt2lang"),
        f"no such file {d}/utt2lang (given with --extra-files)",
    )


def test_dos_line_endings_and_blank_lines(run, make_data_dir, read, write):
    d = make_data_dir()
    (d / "utt2spk").write_bytes((d / "utt2spk").read_bytes().replace(b"\n", b"\r\n"))
    assert_error(
        validate(run, d), f"{d}/utt2spk: line 1: contains a carriage return (DOS line endings?)"
    )
    d2 = make_data_dir("d2")
    write(d2 / "text", read(d2 / "text")[:3] + [""] + read(d2 / "text")[3:])
    assert_error(validate(run, d2), f"{d2}/text: line 4: empty line")


def test_bad_gender_and_durations(run, make_data_dir, read, write):
    d = make_data_dir()
    write(d / "spk2gender", ["spkA f", "spkB x", "spkC m"])
    assert_error(
        validate(run, d), f"{d}/spk2gender: line 2: gender of speaker spkB must be m or f, got x"
    )
    (d / "spk2gender").unlink()
    write(d / "utt2dur", [f"{line.split()[0]} 0" for line in read(d / "utt2spk")])
    assert_error(validate(run, d), f"{d}/utt2dur: line 1: bad value 0 for utterance spkA-001")


def test_usage(run, tmp_path):
    r = run("validate_data_dir.sh", "--bogus", tmp_path)
    assert r.returncode == 1
    assert r.stderr.startswith(
        "validate_data_dir.sh: invalid option --bogus\nUsage: validate_data_dir.sh"
    )
    r = run("validate_data_dir.sh", tmp_path / "nope")
    assert r.returncode == 1
    assert r.stderr == f"validate_data_dir.sh: no such directory {tmp_path / 'nope'}\n"


def test_task_files_for_some_utterances_only(run, make_data_dir, add_tasks, read, write, osum_env):
    """A dir whose task files cover some utterances but not others fails, naming the file:
    utt2task (osum.bin.validate_tasks, as before), utt2taskinfo, and a label file, ctm or
    utt2question left without the utt2task that says which utterances use it."""
    d = add_tasks(make_data_dir())
    r = run("validate_data_dir.sh", d, env=osum_env)
    assert r.returncode == 0, r.stderr
    info = read(d / "utt2taskinfo")
    write(d / "utt2taskinfo", info[:3] + info[4:])
    assert_error(
        validate(run, d),
        f"{d}/utt2taskinfo: utterance spkB-002 of {d}/utt2spk is missing "
        "(1 utterance(s) missing from utt2taskinfo)",
    )
    write(d / "utt2taskinfo", [line.replace("SRWT", "ASR") for line in info])
    assert_error(
        validate(run, d),
        f"{d}/utt2taskinfo: line 4: task ASR of spkB-002 is not its task in {d}/utt2task "
        f"(SRWT); make it again (python -m osum.bin.prepare_task_info {d})",
    )
    write(d / "utt2taskinfo", info)
    task = read(d / "utt2task")
    write(d / "utt2task", task[:3] + task[4:])
    r = run("validate_data_dir.sh", d, env=osum_env)
    assert r.returncode == 1
    assert f"{d}/utt2task: utterance spkB-002 has no task" in r.stderr
    (d / "utt2task").unlink()
    (d / "utt2taskinfo").unlink()
    assert_error(
        validate(run, d),
        f"{d}/utt2emotion: task file without {d}/utt2task: every utterance would be ASR and "
        "utt2emotion unused (was utt2task lost when the dir was copied?)",
    )
    for name in ("utt2emotion", "utt2question", "ctm"):
        (d / name).unlink()
    assert validate(run, d).returncode == 0
