"""Bad and partial corpora: lines that are not UTF-8, subsets and sessions chosen by
option, clip durations, the messages of missing metadata, and the checksums of the
download scripts. The corpora are the miniatures of test_corpora.py, damaged here."""

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from test_corpora import (
    mini_airbench,
    mini_aishell,
    mini_commonvoice,
    mini_esc50,
    mini_expresso,
    mini_iemocap,
    mini_kaggle_cv,
    mini_librispeech,
    mini_meld,
    mini_vocalsound,
    mini_wenetspeech,
)

from helpers import REPO, copy_recipe, read_kv
from osum.corpora import checksums
from osum.corpora.common import BadLine, decode_lines, text_lines

GBK = "而对楼市".encode("gbk")  # starts with 0xb6: not UTF-8
LABELS = {c: REPO / "egs" / c / "osum1" / "conf" / "labels.yaml" for c in os.listdir(REPO / "egs")}


def replace_line(path: Path, lineno: int, raw: bytes) -> None:
    """Line ``lineno`` (1-based) of ``path`` replaced by the bytes ``raw``."""
    lines = path.read_bytes().split(b"\n")
    lines[lineno - 1] = raw
    path.write_bytes(b"\n".join(lines))


def local_data(recipe: Path, *args, env=None):
    """``local/data.sh ARGS`` in a recipe copy, with this interpreter's environment."""
    path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
    env = dict(os.environ, PATH=path, **(env or {}))
    return subprocess.run(
        ["local/data.sh", *args], cwd=recipe, capture_output=True, text=True, env=env
    )


# ---------------------------------------------------------------- the shared reader
def test_lines_that_are_not_utf8_are_named_skipped_and_counted(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_bytes(b"\xef\xbb\xbfa one\r\nb caf\xe9\r\nc three\n" + b"d \xd7\n" * 7)
    bad = []
    assert list(text_lines(f, bad)) == [(1, "a one"), (3, "c three")]
    assert [b.lineno for b in bad] == [2, 4, 5, 6, 7, 8, 9, 10]
    assert bad[0] == BadLine(
        f, 2, "not valid UTF-8 (byte 0xe9 at byte 6 of the line)", "b caf\\xe9"
    )
    assert bad[0].key == "b" and bad[0].where == f"{f}:2"
    err = capsys.readouterr().err
    assert f"warning: {f}:2: not valid UTF-8 (byte 0xe9 at byte 6 of the line), skipped" in err
    assert err.count("warning: ") == 6  # five lines one by one, then the count
    assert f"{f}: 8 lines in all are not valid UTF-8 (the first at line 2)" in err
    assert "iconv" in err
    bad = []  # a second encoding for a file known to hold one (MELD's Windows-1252)
    assert [t for _, t in decode_lines(f, bad, ("utf-8", "cp1252"))][:2] == ["a one", "b café"]
    assert not bad


# ---------------------------------------------------------------- AISHELL-1, LibriSpeech
def test_aishell_keeps_every_good_utterance_around_a_gbk_line(tmp_path, capsys):
    from osum.corpora import aishell

    root = mini_aishell(tmp_path / "aishell")
    transcript = root / "data_aishell" / "transcript" / "aishell_transcript_v0.8.txt"
    lines = transcript.read_bytes().split(b"\n")
    n = next(i for i, x in enumerate(lines, 1) if x.startswith(b"BAC009S0764W0121"))
    replace_line(transcript, n, b"BAC009S0764W0121 " + GBK)
    info = root / "resource_aishell" / "speaker.info"
    info.write_bytes(info.read_bytes() + b"0765 \xc4\xd0\n")  # "男" in GBK
    summary = aishell.prepare(
        root, "test", tmp_path / "test", ["ASR", "SGC"], {}, LABELS["aishell"]
    )
    out = tmp_path / "test"
    assert set(read_kv(out / "text")) == {"BAC009S0764W0122", "BAC009S0764W0122-sgc",
                                          "BAC009S0765W0300"}  # fmt: skip
    skipped = (out / "skipped").read_text()
    assert (
        f"BAC009S0764W0121 its transcript line {transcript}:{n} is not valid UTF-8 (byte 0xb6"
        in skipped
    )
    assert f"BAC009S0765W0300-sgc speaker S0765's line {info}:5 is not valid UTF-8" in skipped
    assert summary["skipped"] == 2
    assert f"{transcript}:{n}: not valid UTF-8" in capsys.readouterr().err


def test_librispeech_keeps_every_good_utterance_around_a_latin1_line(tmp_path):
    from osum.corpora import librispeech

    root = mini_librispeech(tmp_path / "LibriSpeech")
    chapter = root / "test-clean" / "121" / "121726"
    trans = chapter / "121-121726.trans.txt"
    replace_line(trans, 2, b"121-121726-0001 CAF\xc9 AU LAIT")  # Latin-1
    speakers = root / "SPEAKERS.TXT"
    speakers.write_bytes(speakers.read_bytes().replace(b"Reader\n3752", b"R\xe9ader\n3752"))
    librispeech.prepare(
        root, ["test-clean"], tmp_path / "o", ["ASR", "SGC"], label_map=LABELS["librispeech"]
    )
    text = read_kv(tmp_path / "o" / "text")
    assert "121-121726-0000" in text and "1089-134686-0000" in text
    assert "121-121726-0001" not in text
    skipped = (tmp_path / "o" / "skipped").read_text()
    assert f"121-121726-0001 its transcript line {trans}:2 is not valid UTF-8 (byte 0xc9" in skipped
    # a Latin-1 byte in a reader's name (a column not used) costs nothing
    assert "1089-134686-0000-sgc" in text and "speaker 1089" not in skipped


def test_librispeech_subsets_chosen_by_option(tmp_path):
    """A corpus with test-clean and train-clean-100 only: local/data.sh prepares what it
    is asked for; a subset asked for but missing is named, with where it was looked
    for, in one line, before anything is written."""
    root = mini_librispeech(tmp_path / "corpus" / "LibriSpeech")
    shutil.rmtree(root / "test-other")
    shutil.rmtree(root / "dev-clean")
    d = copy_recipe("librispeech", tmp_path / "egs")
    env = {"LIBRISPEECH": str(root)}
    res = local_data(d, "--tasks", "ASR", env=env)  # the defaults ask for dev-clean, test-other
    assert res.returncode != 0
    lines = [x for x in res.stderr.splitlines() if "was asked for" in x]
    assert sorted(lines) == [
        f"librispeech: subset {s} was asked for but is not in {root} (no "
        f"{root}/{s}/<spk>/<chapter>/<spk>-<chapter>.trans.txt)"
        for s in ("dev-clean", "test-other")
    ]
    assert not (d / "data").exists()
    res = local_data(
        d, "--tasks", "ASR", "--dev_subsets", "", "--test_subsets", "test-clean", env=env
    )
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in (d / "data").iterdir()) == ["test_clean", "train"]
    assert "121-121726-0000" in read_kv(d / "data" / "test_clean" / "text")
    assert all(u.startswith(("14-", "60-", "999-")) for u in read_kv(d / "data" / "train" / "text"))
    res = local_data(d, "--train_subsets", "", "--dev_subsets", "", "--test_subsets", "", env=env)
    assert res.returncode != 0 and "no subset to prepare" in res.stderr


# ---------------------------------------------------------------- Common Voice
def test_commonvoice_skips_a_line_that_is_not_utf8(tmp_path):
    from osum.corpora import commonvoice

    root = mini_commonvoice(tmp_path / "cv" / "en")
    replace_line(root / "test.tsv", 2, b"f" * 64 + b"\tcommon_voice_en_6.mp3\tsid\tTr\xe8s\t\t2\t0")
    commonvoice.prepare(root, "test", tmp_path / "o", ["ASR"], LABELS["commonvoice"])
    assert set(read_kv(tmp_path / "o" / "text")) == {"a" * 16 + "-common_voice_en_7"}
    skipped = (tmp_path / "o" / "skipped").read_text()
    assert f"{root / 'test.tsv'}:2 not valid UTF-8 (byte 0xe8" in skipped
    kaggle = mini_kaggle_cv(tmp_path / "kaggle")
    replace_line(kaggle / "cv-valid-test.csv", 3, b"cv-valid-test/sample-000001.mp3,\xff,1,0,,,us,")
    commonvoice.prepare(kaggle, "test", tmp_path / "k", ["ASR"], LABELS["commonvoice"])
    text = read_kv(tmp_path / "k" / "text")
    assert "cv-sample-000000" in text and "cv-sample-000001" not in text
    assert f"{kaggle / 'cv-valid-test.csv'}:3 not valid UTF-8 (byte 0xff" in (
        (tmp_path / "k" / "skipped").read_text()
    )


# ---------------------------------------------------------------- MELD
def test_meld_csv_line_in_no_known_encoding_is_skipped(tmp_path):
    from osum.corpora.meld import read_csv_text

    f = tmp_path / "x.csv"
    f.write_bytes(b"Sr No.,Utterance\r\n1,don\x92t\r\n2,\x81\x8d\r\n3,ok\r\n")
    bad = []
    assert read_csv_text(f, bad).splitlines() == ["Sr No.,Utterance", "1,don\u2019t", "", "3,ok"]
    assert [(b.lineno, b.reason[:35]) for b in bad] == [(3, "not valid UTF-8 or CP1252 (byte 0x8")]


def test_meld_durations_are_the_clips_not_the_csv_times(tmp_path):
    """The csv's StartTime-EndTime of the miniature's rows is 2.793 s; its clips 0.6 s."""
    from osum.corpora import meld

    root = mini_meld(tmp_path / "MELD.Raw")
    meld.prepare(root, "test", tmp_path / "test", LABELS["meld"])
    durs = read_kv(tmp_path / "test" / "utt2dur")
    assert set(durs) == {"Mrs_Geller-dia3_utt0-test", "Monica-dia3_utt1-test"}
    assert all(float(v) == pytest.approx(0.6, abs=0.06) for v in durs.values()), durs


# ---------------------------------------------------------------- IEMOCAP
def test_iemocap_skips_lines_that_are_not_utf8(tmp_path):
    from osum.corpora import iemocap

    root = mini_iemocap(tmp_path / "IEMOCAP_full_release")
    trans = root / "Session5" / "dialog" / "transcriptions" / "Ses05M_impro03.txt"
    replace_line(trans, 2, b"Ses05M_impro03_M002 [001.5000-002.2357]: Ol\xe9.\r")
    emo = root / "Session2" / "dialog" / "EmoEvaluation" / "Ses02F_impro02.txt"
    replace_line(emo, 1, b"% \xff header")
    iemocap.prepare(root, [5], tmp_path / "t", LABELS["iemocap"])
    assert read_kv(tmp_path / "t" / "utt2emotion") == {"Ses05F-Ses05M_impro03_F000": "happy"}
    skipped = (tmp_path / "t" / "skipped").read_text()
    assert f"Ses05M-Ses05M_impro03_M002 its transcription line {trans}:2 is not valid" in skipped
    iemocap.prepare(root, [2], tmp_path / "s2", LABELS["iemocap"])
    assert f"{emo}:1 not valid UTF-8 (byte 0xff" in (tmp_path / "s2" / "skipped").read_text()
    assert read_kv(tmp_path / "s2" / "utt2emotion") == {"Ses02F-Ses02F_impro02_F001": "sad"}


def test_iemocap_sessions_chosen_by_option(tmp_path):
    root = mini_iemocap(tmp_path / "corpus" / "IEMOCAP_full_release")
    d = copy_recipe("iemocap", tmp_path / "egs")
    env = {"IEMOCAP": str(root)}
    opts = ["--test_sessions", "1", "--dev_sessions", "2", "--train_sessions", "3 4"]
    res = local_data(d, *opts, env=env)
    assert res.returncode == 0, res.stderr
    sessions = {
        s: {u[:5] for u in read_kv(d / "data" / s / "utt2spk")} for s in ("train", "dev", "test")
    }
    assert sessions == {"test": {"Ses01"}, "dev": {"Ses02"}, "train": {"Ses03", "Ses04"}}
    for opts, message in [
        (["--test_sessions", "5", "--train_sessions", "4 5"],
         "session 5 is in both --test_sessions and --train_sessions"),
        (["--test_sessions", "6"], "--test_sessions 6: IEMOCAP's sessions are 1, 2, 3, 4 and 5"),
        (["--test_sessions", "1 2", "--dev_sessions", "3 4 5"], "no session is left to train on"),
        (["--dev_share", "0"], "no dev set: give --dev_sessions, or a --dev_share between 0 and 1"),
        (["--test_sessions", "x"], "invalid int value: 'x'"),
    ]:  # fmt: skip
        shutil.rmtree(d / "data", ignore_errors=True)
        res = local_data(d, *opts, env=env)
        assert res.returncode != 0 and message in res.stderr, (opts, res.stderr)
        assert "Traceback" not in res.stderr and not (d / "data").exists(), opts


# ---------------------------------------------------------------- VocalSound
def test_vocalsound_without_ages_says_so_once(tmp_path, capsys):
    """No meta/: the clip lists give the speakers and no ages. SAP is left out, said
    once for the split, not clip by clip as an age '' in no range."""
    from osum.corpora import vocalsound

    root = mini_vocalsound(tmp_path / "vs")
    shutil.rmtree(root / "meta")
    vocalsound.prepare(root, "te", tmp_path / "te", ["VED", "SAP"], LABELS["vocalsound"])
    skipped = (tmp_path / "te" / "skipped").read_text().splitlines()
    data = root / "datafiles" / "te.json"
    assert skipped == [
        f"SAP-te SAP is left out for their 3 clips: {data} gives no ages (there is no "
        "meta/te_meta.json)"
    ]
    assert len(read_kv(tmp_path / "te" / "utt2event")) == 3
    assert capsys.readouterr().err.count("gives no ages (there is no meta/te_meta.json)") == 1


def test_vocalsound_meta_line_that_is_not_utf8(tmp_path):
    from osum.corpora import vocalsound

    root = mini_vocalsound(tmp_path / "vs")
    (root / "meta" / "tr_meta.json").unlink()
    csv_meta = root / "meta" / "tr_meta.csv"
    csv_meta.write_bytes(b"spk_id,gender,age\nf0003,F\xe9male,23\nm0011,Male,64\n")
    vocalsound.prepare(root, "tr", tmp_path / "tr", ["VED", "SGC"], LABELS["vocalsound"])
    assert len(read_kv(tmp_path / "tr" / "utt2event")) == 4  # VED needs no metadata
    assert set(read_kv(tmp_path / "tr" / "utt2gender")) == {
        "m0011-0_sniff-sgc",
        "m0011-1_throatclearing-sgc",
    }
    skipped = (tmp_path / "tr" / "skipped").read_text()
    assert f"{csv_meta}:2 not valid UTF-8 (byte 0xe9" in skipped
    assert f"f0003-0_cough-sgc speaker f0003: its line {csv_meta}:2 is not valid UTF-8" in skipped
    (root / "meta" / "tr_meta.csv").unlink()  # the json, pretty-printed, a bad byte in an age
    meta = root / "meta" / "tr_meta.json"
    meta.write_bytes(b'[["f0003", "Female", "2\xd73"],\n ["m0011", "Male", "64"]]')
    bad = []
    speakers = vocalsound.read_speakers(root, "tr", bad)
    assert speakers["m0011"] == {"gender": "Male", "age": "64"}
    assert "not valid UTF-8 (byte 0xd7" in speakers["f0003"]["unreadable"]
    assert [b.where for b in bad] == [f"{meta}:1"]


# ---------------------------------------------------------------- ESC-50, Expresso
def test_esc50_and_expresso_skip_lines_that_are_not_utf8(tmp_path):
    from osum.corpora import esc50, expresso

    root = mini_esc50(tmp_path / "ESC-50-master")
    meta = root / "meta" / "esc50.csv"
    replace_line(meta, 2, b"1-100000-A-1.wav,1,1,crying_b\xe9by,False,100000,A")
    esc50.prepare(root, [1], tmp_path / "e", LABELS["esc50"])
    assert len(read_kv(tmp_path / "e" / "utt2event")) == 2
    assert f"{meta}:2 not valid UTF-8" in (tmp_path / "e" / "skipped").read_text()
    root = mini_expresso(tmp_path / "expresso")
    texts = root / "read_transcriptions.txt"
    n = next(
        i for i, x in enumerate(texts.read_bytes().split(b"\n"), 1) if x.startswith(b"ex03_sad")
    )
    replace_line(texts, n, b"ex03_sad_00030\tWhy \x93not\x94?")
    expresso.prepare(root, "test", tmp_path / "x", LABELS["expresso"])
    assert "ex03_sad_00030" not in read_kv(tmp_path / "x" / "text")
    assert f"ex03_sad_00030 its transcript line {texts}:{n} is not valid UTF-8" in (
        (tmp_path / "x" / "skipped").read_text()
    )


# ---------------------------------------------------------------- WenetSpeech, AIR-Bench
def test_wenetspeech_and_airbench_skip_items_that_are_not_utf8(tmp_path):
    from osum.corpora import airbench, wenetspeech

    root = mini_wenetspeech(tmp_path / "WenetSpeech")
    meta = root / "WenetSpeech.json"
    doc = json.loads(meta.read_text())
    text = json.dumps(doc, ensure_ascii=False, indent=1).encode()
    meta.write_bytes(text.replace("网络测试".encode(), b"\xd7\xd3"))  # GBK bytes
    wenetspeech.prepare(root, {"TEST_NET": str(tmp_path / "tn")})
    assert set(read_kv(tmp_path / "tn" / "text")) == {"Y0000000004_tn_S00003"}
    line = next(i for i, x in enumerate(text.split(b"\n"), 1) if b'"Y0000000004_tn"' in x)
    skipped = (tmp_path / "tn" / "skipped").read_text()
    # the line where its recording's item starts: "{", the line before its "aid"
    assert (
        f"Y0000000004_tn_S00000 its text is not valid UTF-8 (byte 0xd7; WenetSpeech.json:{line - 1})"
        in skipped
    )
    root = mini_airbench(tmp_path / "air")
    chat = root / "Chat" / "Chat_meta.json"
    items = json.loads(chat.read_text())  # an item a line, the third with a Latin-1 byte
    lines = "[\n" + ",\n".join(json.dumps(x) for x in items) + "\n]\n"
    chat.write_bytes(lines.encode().replace(b"Sports.", b"Sp\xf6rts."))
    airbench.prepare(root, tmp_path / "a")
    assert "fisher-00012" not in read_kv(tmp_path / "a" / "text")
    assert "common_voice_en-00668" in read_kv(tmp_path / "a" / "text")
    skipped = (tmp_path / "a" / "skipped").read_text()
    assert f"{chat}:4 item 2 is not valid UTF-8 (byte 0xf6)" in skipped


# ---------------------------------------------------------------- downloads
def test_checksums_against_the_published_ones(tmp_path):
    f = tmp_path / "test-clean.tar.gz"
    f.write_bytes(b"not the archive")
    checksums.verify(f, "md5", "faad6fe8d15940921af14a21e4af226d")  # md5 of its bytes
    right = checksums.file_digest(f, "sha256")
    checksums.verify(f, "sha256", right.upper())  # as a page may print it
    with pytest.raises(
        checksums.ChecksumError, match=r"its md5 is [0-9a-f]{32}, not 0+ \(published"
    ):
        checksums.verify(f, "md5", "0" * 32, "https://example/md5sum.txt")
    with pytest.raises(
        checksums.ChecksumError,
        match=r"not 32fa31d27d2e1cad72775fee3f4849a9 \(published at https://www.openslr.org/resources/12/md5sum.txt\)",
    ):
        checksums.verify_published(f, "librispeech")
    with pytest.raises(checksums.ChecksumError, match="x.tgz is not among aishell's published"):
        checksums.verify_published(tmp_path / "x.tgz", "aishell")
    cli = [sys.executable, "-m", "osum.corpora.checksums"]
    res = subprocess.run([*cli, "--corpus", "librispeech", str(f)], capture_output=True, text=True)
    assert res.returncode == 1 and "delete it and download it again" in res.stderr
    res = subprocess.run([*cli, "--sha256", right, str(f)], capture_output=True, text=True)
    assert res.returncode == 0 and "OK" in res.stderr


def test_archives_without_published_checksums_are_checked_as_far_as_they_can(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = os.urandom(200_000)
        info = tarfile.TarInfo("IEMOCAP_full_release/Session1/x.bin")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    whole = tmp_path / "IEMOCAP_full_release.tar.gz"
    whole.write_bytes(buf.getvalue())
    checksums.verify_archive(whole)
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(buf.getvalue()[:-5000])
    with pytest.raises(checksums.ChecksumError, match="damaged or incomplete archive"):
        checksums.verify_archive(cut)
    flipped = bytearray(buf.getvalue())
    flipped[len(flipped) // 2] ^= 0xFF
    (tmp_path / "flip.tgz").write_bytes(bytes(flipped))
    with pytest.raises(checksums.ChecksumError):
        checksums.verify_archive(tmp_path / "flip.tgz")
    assert gzip.decompress(buf.getvalue())  # the whole one decompresses
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("ESC-50-master/meta/esc50.csv", "filename,fold\n" * 100)
    checksums.verify_archive(tmp_path / "a.zip")
    raw = bytearray((tmp_path / "a.zip").read_bytes())
    raw[60] ^= 0xFF  # inside the stored member's data
    (tmp_path / "b.zip").write_bytes(bytes(raw))
    with pytest.raises(checksums.ChecksumError):
        checksums.verify_archive(tmp_path / "b.zip")


def test_download_scripts_check_what_they_fetch_and_eval_nothing():
    """Each download.sh that fetches an archive checks it (against the published checksum
    where there is one) before unpacking it; none of local/*.sh evals a string."""
    for corpus in ("librispeech", "aishell"):
        script = (REPO / "egs" / corpus / "osum1" / "local" / "download.sh").read_text()
        assert f"osum.corpora.checksums --corpus {corpus}" in script, corpus
        assert script.index("osum.corpora.checksums") < script.index("tar -x"), corpus
    for corpus in ("esc50", "vocalsound", "expresso", "meld", "iemocap", "commonvoice"):
        script = (REPO / "egs" / corpus / "osum1" / "local" / "download.sh").read_text()
        assert "osum.corpora.checksums --archive" in script, corpus
        assert "checksum" in script.split("set -euo")[0].lower(), corpus  # says why not more
    for path in (REPO / "egs").glob("*/osum1/local/*.sh"):
        code = [x.split("#")[0] for x in path.read_text().splitlines()]
        assert not any(re.search(r"(^|[\s;|&(])eval\b", x) for x in code), path
    for corpus in checksums.PUBLISHED:
        readme = (REPO / "egs" / corpus / "osum1" / "README.md").read_text()
        assert "md5" in readme, corpus
