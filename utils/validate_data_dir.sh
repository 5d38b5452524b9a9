#!/usr/bin/env bash
# validate_data_dir.sh: check that a Kaldi-style data directory is consistent.
#
# Usage: validate_data_dir.sh [--no-feats] [--no-text] [--no-wav] [--no-spk-sort] [--task-conf YAML]
#                             [--extra-files "<file1> <file2> ..."] <data-dir>
#   e.g. validate_data_dir.sh --no-feats data/train
#
# Checks, stopping at the first problem (exit 1, with a message naming the
# file and, where there is one, the line number or the utterance id):
#  * utt2spk and spk2utt exist;
#  * each of wav.scp, text, utt2spk, spk2utt, segments, feats.scp,
#    utt2num_frames, utt2dur, reco2dur, spk2gender and the --extra-files that
#    exists has no blank lines, no DOS line endings, no leading whitespace, and
#    is sorted on its first field with unique keys (LC_ALL=C sort -k1,1 -cu);
#  * the fields are well formed: utt2spk "<utt> <spk>", feats.scp
#    "<utt> <rxfilename>", segments "<utt> <reco> <start> <end>" (end > start,
#    or -1 for "to the end"), numbers in utt2dur, utt2num_frames, reco2dur, m/f
#    in spk2gender;
#  * text is valid UTF-8;
#  * text, feats.scp, segments, utt2dur, utt2num_frames and the extra files
#    list exactly the utterances of utt2spk; spk2utt is what utt2spk implies
#    (as made by utils/utt2spk_to_spk2utt.pl); spk2gender lists its speakers;
#  * without segments, wav.scp (and reco2dur) list exactly the utterances;
#    with segments, every recording named in segments is in wav.scp, and
#    reco2dur lists exactly the recordings of wav.scp;
#  * unless --no-spk-sort, sorting utt2spk on the speaker gives the same order
#    as sorting it on the utterance (i.e. speaker ids are prefixes of the
#    utterance ids), as Kaldi's per-speaker processing requires.
#  * osum's task files: utt2taskinfo (when there is one) is sorted and lists
#    exactly the utterances, its tasks those of utt2task; a label file
#    (utt2emotion, utt2event, utt2style, utt2gender, utt2age), utt2answer,
#    utt2question or ctm without utt2task is an error (every utterance would
#    be ASR and its labels unused: utt2task was lost, e.g. by a copy);
#  * when the dir has task files (utt2task), osum's task checks
#    (python -m osum.bin.validate_tasks, with --task-conf's label sets and tasks):
#    every utterance has a known task,
#    labels are in the task's label set, ctm word times are ordered and inside
#    the audio, every STTC utterance has an answer (needs tools/venv active).
# --no-feats, --no-text and --no-wav skip every check of feats.scp, text and
# wav.scp (and reco2dur) respectively.  None of these files is required.
# On success prints "validate_data_dir.sh: Successfully validated data-directory <dir>".

set -euo pipefail

prog=$(basename "$0")
no_feats=false
no_text=false
no_wav=false
no_spk_sort=false
extra_files=""
task_conf=""

usage() {
  sed -n '4,6p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case "$1" in
    --no-feats|--no_feats) no_feats=true; shift ;;
    --no-text|--no_text) no_text=true; shift ;;
    --no-wav|--no_wav) no_wav=true; shift ;;
    --no-spk-sort|--no_spk_sort) no_spk_sort=true; shift ;;
    --extra-files|--extra_files)
      [ $# -ge 2 ] || { echo "$prog: option $1 requires a value" >&2; exit 1; }
      extra_files=$2; shift 2 ;;
    --extra-files=*|--extra_files=*) extra_files=${1#*=}; shift ;;
    --task-conf|--task_conf)
      [ $# -ge 2 ] || { echo "$prog: option $1 requires a value" >&2; exit 1; }
      task_conf=$2; shift 2 ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "$prog: invalid option $1" >&2; usage ;;
    *) break ;;
  esac
done

[ $# -eq 1 ] || usage
data=$1
[ -d "$data" ] || { echo "$prog: no such directory $data" >&2; exit 1; }

export LC_ALL=C
python3 - "$prog" "$data" "$no_feats" "$no_text" "$no_wav" "$no_spk_sort" "$extra_files" <<'EOF'
import json
import os
import re
import sys

prog, data, no_feats, no_text, no_wav, no_spk_sort, extra = sys.argv[1:8]
no_feats, no_text, no_wav, no_spk_sort = (x == "true" for x in (no_feats, no_text, no_wav, no_spk_sort))
extra_files = extra.split()
SEP = re.compile(rb"[ \t]+")


def fail(msg):
    sys.stderr.write(f"{prog}: {msg}\n")
    sys.exit(1)


def path(name):
    return os.path.join(data, name)


def show(b):
    return b.decode("utf-8", errors="backslashreplace")


def read_table(name):
    """Returns [(line_no, key, fields)] for <data>/<name>, checking the format
    shared by all tables: no blank lines, no CR, sorted unique keys."""
    p = path(name)
    with open(p, "rb") as f:
        raw = f.read()
    if raw and not raw.endswith(b"\n"):
        raw += b"\n"
    rows = []
    prev = None
    for n, line in enumerate(raw.split(b"\n")[:-1], start=1):
        if b"\r" in line:
            fail(f"{p}: line {n}: contains a carriage return (DOS line endings?)")
        if not line.strip():
            fail(f"{p}: line {n}: empty line")
        if line[:1] in (b" ", b"\t"):
            fail(f"{p}: line {n}: starts with whitespace")
        fields = SEP.split(line.strip(b" \t"))
        key = fields[0]
        if prev is not None:
            if key == prev:
                fail(f"{p}: line {n}: duplicate key {show(key)}")
            if key < prev:
                fail(f"{p}: line {n}: not sorted (LC_ALL=C sort -k1,1): {show(key)} comes after {show(prev)}")
        prev = key
        rows.append((n, key, fields))
    return rows


def exists(name):
    return os.path.isfile(path(name))


def check_nfields(name, rows, lo, hi, what):
    for n, key, fields in rows:
        if not lo <= len(fields) <= hi:
            fail(f"{path(name)}: line {n}: expected '{what}', got {len(fields)} field(s) for {show(key)}")


def number(name, n, key, s, integer=False):
    try:
        v = int(s) if integer else float(s)
    except ValueError:
        fail(f"{path(name)}: line {n}: bad {'integer' if integer else 'number'} '{show(s)}' for {show(key)}")
    return v


def same_keys(name, keys, ref_name, ref_keys, what="utterance"):
    """Reports the first key in one list but not the other."""
    a, b = set(keys), set(ref_keys)
    if a == b:
        return
    only_here = sorted(a - b)
    if only_here:
        fail(f"{path(name)}: {what} {show(only_here[0])} is not in {path(ref_name)} "
             f"({len(only_here)} {what}(s) only in {name})")
    only_ref = sorted(b - a)
    fail(f"{path(name)}: {what} {show(only_ref[0])} of {path(ref_name)} is missing "
         f"({len(only_ref)} {what}(s) missing from {name})")


for name in ("utt2spk", "spk2utt"):
    if not exists(name):
        hint = " (make it with utils/utt2spk_to_spk2utt.pl or utils/fix_data_dir.sh)" if name == "spk2utt" else ""
        fail(f"no such file {path(name)}{hint}")

tables = {}
known = ["utt2spk", "spk2utt", "wav.scp", "text", "segments", "feats.scp",
         "utt2num_frames", "utt2dur", "reco2dur", "spk2gender"]
skip = set()
if no_feats:
    skip.add("feats.scp")
if no_text:
    skip.add("text")
if no_wav:
    skip.update(("wav.scp", "reco2dur"))
for name in known + [e for e in extra_files if e not in known]:
    if name in skip:
        continue
    if exists(name):
        tables[name] = read_table(name)
    elif name in extra_files:
        fail(f"no such file {path(name)} (given with --extra-files)")

# utt2spk / spk2utt
utt2spk = tables["utt2spk"]
check_nfields("utt2spk", utt2spk, 2, 2, "<utt-id> <spk-id>")
if not utt2spk:
    fail(f"{path('utt2spk')}: file is empty")
utts = [k for _, k, _ in utt2spk]
spk_of = {k: f[1] for _, k, f in utt2spk}

expected = {}
for u in utts:
    expected.setdefault(spk_of[u], []).append(u)
spk2utt = tables["spk2utt"]
check_nfields("spk2utt", spk2utt, 2, 1 << 62, "<spk-id> <utt-id1> [<utt-id2> ...]")
seen = set()
for n, spk, fields in spk2utt:
    if spk not in expected:
        fail(f"{path('spk2utt')}: line {n}: speaker {show(spk)} is not in {path('utt2spk')}")
    if fields[1:] != expected[spk]:
        fail(f"{path('spk2utt')}: line {n}: the utterances of speaker {show(spk)} do not match "
             f"{path('utt2spk')} (expected: {show(b' '.join(expected[spk]))})")
    seen.add(spk)
for spk in sorted(expected):
    if spk not in seen:
        fail(f"{path('spk2utt')}: speaker {show(spk)} of {path('utt2spk')} is missing")

if not no_spk_sort:
    by_spk = sorted(utts, key=lambda u: (spk_of[u], u))
    for i, (a, b) in enumerate(zip(utts, by_spk)):
        if a != b:
            fail(f"{path('utt2spk')}: not in the same order when sorted on the speaker: utterance "
                 f"{show(b)} (speaker {show(spk_of[b])}) would come before {show(a)} (speaker "
                 f"{show(spk_of[a])}); make the speaker ids prefixes of the utterance ids, "
                 f"or use --no-spk-sort")

# text
if "text" in tables:
    for n, key, fields in tables["text"]:
        try:
            b" ".join(fields).decode("utf-8")
        except UnicodeDecodeError as e:
            fail(f"{path('text')}: line {n}: invalid UTF-8 in the text of utterance {show(key)} ({e.reason})")
    same_keys("text", [k for _, k, _ in tables["text"]], "utt2spk", utts)

# feats.scp and other per-utterance tables
if "feats.scp" in tables:
    check_nfields("feats.scp", tables["feats.scp"], 2, 2, "<utt-id> <rxfilename>")
    same_keys("feats.scp", [k for _, k, _ in tables["feats.scp"]], "utt2spk", utts)
for name in ("utt2dur", "utt2num_frames"):
    if name in tables:
        check_nfields(name, tables[name], 2, 2, f"<utt-id> <{'duration' if name == 'utt2dur' else 'num-frames'}>")
        for n, key, fields in tables[name]:
            v = number(name, n, key, fields[1], integer=(name == "utt2num_frames"))
            if v < 0 or (name == "utt2dur" and v == 0):
                fail(f"{path(name)}: line {n}: bad value {show(fields[1])} for utterance {show(key)}")
        same_keys(name, [k for _, k, _ in tables[name]], "utt2spk", utts)
for name in extra_files:
    if name in tables and name not in known:
        same_keys(name, [k for _, k, _ in tables[name]], "utt2spk", utts)

# segments, wav.scp, reco2dur
if "segments" in tables:
    segs = tables["segments"]
    check_nfields("segments", segs, 4, 4, "<utt-id> <recording-id> <start> <end>")
    for n, key, fields in segs:
        start = number("segments", n, key, fields[2])
        end = number("segments", n, key, fields[3])
        if start < 0 or not (end > start or end == -1):
            fail(f"{path('segments')}: line {n}: bad times {show(fields[2])} {show(fields[3])} for utterance {show(key)}")
    same_keys("segments", [k for _, k, _ in segs], "utt2spk", utts)
if "wav.scp" in tables:
    wav = tables["wav.scp"]
    check_nfields("wav.scp", wav, 2, 1 << 62, "<id> <rxfilename>")
    recos = [k for _, k, _ in wav]
    if "segments" in tables:
        reco_set = set(recos)
        for n, key, fields in tables["segments"]:
            if fields[1] not in reco_set:
                fail(f"{path('segments')}: line {n}: recording {show(fields[1])} of utterance {show(key)} "
                     f"is not in {path('wav.scp')}")
        used = {f[1] for _, _, f in tables["segments"]}
        unused = [r for r in recos if r not in used]
        if unused:
            sys.stderr.write(f"{prog}: warning: {len(unused)} recording(s) of {path('wav.scp')} are not used "
                             f"in {path('segments')} (e.g. {show(unused[0])}); utils/fix_data_dir.sh removes them\n")
    else:
        same_keys("wav.scp", recos, "utt2spk", utts)
if "reco2dur" in tables:
    r2d = tables["reco2dur"]
    check_nfields("reco2dur", r2d, 2, 2, "<recording-id> <duration>")
    for n, key, fields in r2d:
        if number("reco2dur", n, key, fields[1]) <= 0:
            fail(f"{path('reco2dur')}: line {n}: bad duration {show(fields[1])} for recording {show(key)}")
    if "wav.scp" in tables:
        same_keys("reco2dur", [k for _, k, _ in r2d], "wav.scp", [k for _, k, _ in tables["wav.scp"]], "recording")
    elif "segments" not in tables:
        same_keys("reco2dur", [k for _, k, _ in r2d], "utt2spk", utts)

# osum's task files
if exists("utt2taskinfo"):
    info = read_table("utt2taskinfo")
    same_keys("utt2taskinfo", [k for _, k, _ in info], "utt2spk", utts)
    task_of = {}
    if exists("utt2task"):
        with open(path("utt2task"), "rb") as f:
            task_of = {fs[0]: fs[1] for fs in (SEP.split(x.strip()) for x in f if x.strip())
                       if len(fs) > 1}
    with open(path("utt2taskinfo"), "rb") as f:
        for n, line in enumerate(f, start=1):
            key, _, value = line.strip().partition(b" ")
            try:
                task = json.loads(value)["task"].encode()
            except (ValueError, TypeError, KeyError, AttributeError):
                fail(f"{path('utt2taskinfo')}: line {n}: expected '<utt-id> <JSON with a task>' "
                     f"for {show(key)}")
            if task_of and task != task_of.get(key, task):
                fail(f"{path('utt2taskinfo')}: line {n}: task {show(task)} of {show(key)} is not its "
                     f"task in {path('utt2task')} ({show(task_of[key])}); make it again "
                     f"(python -m osum.bin.prepare_task_info {data})")
if not exists("utt2task"):
    for name in ("utt2emotion", "utt2event", "utt2style", "utt2gender", "utt2age", "utt2answer",
                 "utt2question", "ctm"):
        if exists(name):
            fail(f"{path(name)}: task file without {path('utt2task')}: every utterance would be "
                 f"ASR and {name} unused (was utt2task lost when the dir was copied?)")

# spk2gender
if "spk2gender" in tables:
    g = tables["spk2gender"]
    check_nfields("spk2gender", g, 2, 2, "<spk-id> <m|f>")
    for n, key, fields in g:
        if fields[1] not in (b"m", b"f"):
            fail(f"{path('spk2gender')}: line {n}: gender of speaker {show(key)} must be m or f, got {show(fields[1])}")
    same_keys("spk2gender", [k for _, k, _ in g], "spk2utt", list(expected), "speaker")
EOF

if [ -f "$data/utt2task" ]; then
  if ! python3 -c "import osum" 2>/dev/null; then
    echo "$prog: $data has task files; their checks need osum (. tools/activate_python.sh)" >&2
    exit 1
  fi
  task_opt=()
  [ -n "$task_conf" ] && task_opt=(--task_conf "$task_conf")
  python3 -m osum.bin.validate_tasks "${task_opt[@]}" "$data" || exit 1
fi

echo "$prog: Successfully validated data-directory $data"
