"""utils/subset_data_dir.sh."""

import pytest

UTTS = ["spkA-001", "spkA-002", "spkB-001", "spkB-002", "spkC-001", "spkC-002"]


def ids(read, path):
    return [line.split()[0] for line in read(path)]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["3"], ["spkA-002", "spkB-002", "spkC-002"]),
        (["1"], ["spkB-002"]),
        (["6"], UTTS),
        (["--first", "2"], ["spkA-001", "spkA-002"]),
        (["--last", "3"], ["spkB-002", "spkC-001", "spkC-002"]),
    ],
)
def test_numeric_forms(run, make_data_dir, read, tmp_path, args, expected):
    src = make_data_dir()
    dest = tmp_path / "sub"
    opts, num = args[:-1], args[-1]
    r = run("subset_data_dir.sh", *opts, src, num, dest)
    assert r.returncode == 0, r.stderr
    assert (
        r.stdout
        == f"subset_data_dir.sh: created {dest} with {len(expected)} of the 6 utterances of {src}\n"
    )
    assert ids(read, dest / "utt2spk") == expected
    for name in ("text", "wav.scp"):
        assert read(dest / name) == [
            line for line in read(src / name) if line.split()[0] in expected
        ]
    spk2utt = {}
    for u in expected:
        spk2utt.setdefault(u.split("-")[0], []).append(u)
    assert read(dest / "spk2utt") == [" ".join([s, *us]) for s, us in sorted(spk2utt.items())]
    r = run("validate_data_dir.sh", dest)
    assert r.returncode == 0, r.stderr


def test_shortest(run, make_data_dir, read, write, tmp_path):
    src = make_data_dir()
    durs = dict(zip(UTTS, ["3.0", "1.5", "2.0", "1.5", "9.0", "0.5"]))
    write(src / "utt2dur", [f"{u} {durs[u]}" for u in UTTS])
    r = run("subset_data_dir.sh", "--shortest", src, 3, tmp_path / "short")
    assert r.returncode == 0, r.stderr
    assert read(tmp_path / "short/utt2dur") == ["spkA-002 1.5", "spkB-002 1.5", "spkC-002 0.5"]
    # utt2num_frames is preferred over utt2dur.
    frames = dict(zip(UTTS, [100, 900, 900, 900, 50, 900]))
    write(src / "utt2num_frames", [f"{u} {frames[u]}" for u in UTTS])
    r = run("subset_data_dir.sh", "--shortest", src, 2, tmp_path / "short2")
    assert r.returncode == 0, r.stderr
    assert ids(read, tmp_path / "short2/utt2spk") == ["spkA-001", "spkC-001"]


def test_shortest_needs_lengths(run, make_data_dir, tmp_path):
    src = make_data_dir()
    r = run("subset_data_dir.sh", "--shortest", src, 2, tmp_path / "x")
    assert r.returncode == 1
    assert (
        r.stderr == f"subset_data_dir.sh: --shortest needs {src}/utt2num_frames or {src}/utt2dur\n"
    )


def test_utt_list(run, make_data_dir, read, write, tmp_path):
    src = make_data_dir()
    write(tmp_path / "list", ["spkC-001", "spkA-002 extra fields", "nobody"])
    r = run("subset_data_dir.sh", "--utt-list", tmp_path / "list", src, tmp_path / "sub")
    assert r.returncode == 0, r.stderr
    assert r.stderr == (
        f"subset_data_dir.sh: warning: 1 utterance(s) of {tmp_path / 'list'} are not in {src} "
        "(e.g. nobody)\n"
    )
    assert ids(read, tmp_path / "sub/text") == ["spkA-002", "spkC-001"]


def test_spk_list_with_segments(run, make_data_dir, read, write, tmp_path):
    src = make_data_dir(segments=True)
    write(src / "spk2gender", ["spkA f", "spkB m", "spkC f"])
    write(tmp_path / "spks", ["spkB"])
    dest = tmp_path / "sub"
    r = run("subset_data_dir.sh", "--spk-list", tmp_path / "spks", src, dest)
    assert r.returncode == 0, r.stderr
    assert ids(read, dest / "utt2spk") == ["spkB-001", "spkB-002"]
    assert read(dest / "segments") == [s for s in read(src / "segments") if s.startswith("spkB")]
    assert read(dest / "wav.scp") == ["spkB-rec /corpus/wav/spkB-rec.wav"]
    assert read(dest / "reco2dur") == ["spkB-rec 10.00"]
    assert read(dest / "spk2gender") == ["spkB m"]
    assert read(dest / "spk2utt") == ["spkB spkB-001 spkB-002"]
    assert run("validate_data_dir.sh", dest).returncode == 0


def test_stale_files_in_dest_are_removed(run, make_data_dir, write, tmp_path):
    src = make_data_dir()
    dest = tmp_path / "sub"
    dest.mkdir()
    write(dest / "feats.scp", ["old-001 x.ark:1"])
    r = run("subset_data_dir.sh", "--first", src, 2, dest)
    assert r.returncode == 0, r.stderr
    assert not (dest / "feats.scp").exists()


def test_errors(run, make_data_dir, write, tmp_path):
    src = make_data_dir()
    r = run("subset_data_dir.sh", src, 7, tmp_path / "x")
    assert r.returncode == 1
    assert r.stderr == f"subset_data_dir.sh: cannot take 7 utterances: {src}/utt2spk has only 6\n"
    assert not (tmp_path / "x").exists()
    r = run("subset_data_dir.sh", "--first", src, "0", tmp_path / "x")
    assert r.returncode == 1
    assert (
        r.stderr
        == "subset_data_dir.sh: the number of utterances must be a positive integer, got '0'\n"
    )
    write(tmp_path / "list", ["nobody"])
    r = run("subset_data_dir.sh", "--utt-list", tmp_path / "list", src, tmp_path / "x")
    assert r.returncode == 1
    assert r.stderr.endswith(
        f"subset_data_dir.sh: none of the utterances in {tmp_path / 'list'} are in {src}\n"
    )
    r = run("subset_data_dir.sh", "--first", src, 2, src)
    assert r.returncode == 1
    assert r.stderr == f"subset_data_dir.sh: the destination {src} is the source directory\n"
    r = run("subset_data_dir.sh", "--bogus", src, 2, tmp_path / "x")
    assert r.returncode == 1
    assert r.stderr.startswith(
        "subset_data_dir.sh: invalid option --bogus\nUsage: subset_data_dir.sh <src-data-dir>"
    )


def test_task_files_are_kept(run, make_data_dir, add_tasks, read, write, osum_env, tmp_path):
    """The task files are filtered to the subset (no utterance quietly becomes ASR), ctm
    keeps every line of the kept utterances in word order, corpus is copied; stale ones
    in <dest> go."""
    src = add_tasks(make_data_dir())
    write(src / "utt2question", ["spkA-001 who?", "spkC-001 what?"])
    dest = tmp_path / "sub"
    dest.mkdir()
    write(dest / "utt2answer", ["old-001 stale"])
    write(tmp_path / "list", ["spkA-001", "spkB-002", "spkC-002"])
    r = run("subset_data_dir.sh", "--utt-list", tmp_path / "list", src, dest, env=osum_env)
    assert r.returncode == 0, r.stderr
    assert read(dest / "utt2task") == ["spkA-001 SER", "spkB-002 SRWT", "spkC-002 ASR"]
    assert ids(read, dest / "utt2taskinfo") == ["spkA-001", "spkB-002", "spkC-002"]
    assert read(dest / "utt2emotion") == ["spkA-001 happy"]
    assert read(dest / "utt2question") == ["spkA-001 who?"]
    assert read(dest / "ctm") == read(src / "ctm")  # 9.50 before 10.20, as in the source
    assert read(dest / "corpus") == ["Corpus A"]
    assert not (dest / "utt2answer").exists()
    r = run("validate_data_dir.sh", dest, env=osum_env)
    assert r.returncode == 0, r.stderr
    r = run("subset_data_dir.sh", "--first", src, 2, tmp_path / "first", env=osum_env)
    assert r.returncode == 0, r.stderr
    assert read(tmp_path / "first/utt2task") == ["spkA-001 SER", "spkA-002 ASR"]
    assert read(tmp_path / "first/ctm") == []
