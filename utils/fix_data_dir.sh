#!/usr/bin/env bash
# fix_data_dir.sh: make a Kaldi-style data directory consistent by sorting
# its files and keeping only the utterances that every file has.
#
# Usage: fix_data_dir.sh [--utt_extra_files "<file1> ..."] [--spk_extra_files "<file1> ..."] <data-dir>
#   e.g. fix_data_dir.sh data/train
#
# * Every file it knows is sorted (LC_ALL=C, on the first field) and exact
#   duplicate lines are dropped.  Two different lines with the same key are
#   an error (exit 1, naming the file and the key), as the script cannot know
#   which one is right.
# * An utterance is kept if and only if it has a well-formed line in every
#   per-utterance file that exists: utt2spk, text, feats.scp, segments,
#   utt2dur, utt2num_frames, utt2lang, utt2uniq, vad.scp and the
#   --utt_extra_files; without segments, also wav.scp (which is then indexed
#   by utterance); with segments, its recording must be in wav.scp (if that
#   exists).  Kept utterances are never altered.
# * osum's task files: utt2task and utt2taskinfo count as per-utterance files
#   above; the label files (utt2emotion, utt2event, utt2style, utt2gender,
#   utt2age), utt2answer, utt2question and ctm (several lines per utterance,
#   order kept) list only some utterances and are filtered to the kept ones.
#   A label file named in --utt_extra_files becomes required (an utterance
#   without a line is removed); naming ctm or corpus changes nothing.  corpus
#   (one line about the whole set) is left as it is.
# * Per-recording files (wav.scp, reco2dur, reco2file_and_channel) keep only
#   the recordings of the kept utterances; per-speaker files (spk2gender,
#   cmvn.scp, spk2warp and the --spk_extra_files) only the kept speakers.
# * spk2utt is regenerated from utt2spk (sorted by speaker).
# * The original files are first copied to <data-dir>/.backup/ (replacing an
#   earlier backup); the ids of the removed utterances are written, sorted,
#   to <data-dir>/.backup/removed_utts.
# Prints "fix_data_dir.sh: kept X utterances out of Y", Y being the number of
# utterances in utt2spk.  If no utterance would remain, nothing is changed and
# the exit status is 1.

set -euo pipefail

utt_extra_files=""
spk_extra_files=""
help_message="Usage: $0 [--utt_extra_files \"<file1> ...\"] [--spk_extra_files \"<file1> ...\"] <data-dir>"

# shellcheck source=utils/parse_options.sh
. "$(dirname "$0")/parse_options.sh"

prog=$(basename "$0")
if [ $# -ne 1 ]; then
  echo "$help_message" >&2
  exit 1
fi
data=$1
[ -d "$data" ] || { echo "$prog: no such directory $data" >&2; exit 1; }
[ -f "$data/utt2spk" ] || { echo "$prog: no such file $data/utt2spk" >&2; exit 1; }

export LC_ALL=C
python3 - "$prog" "$data" "$utt_extra_files" "$spk_extra_files" <<'EOF'
import os
import re
import shutil
import sys

prog, data, utt_extra, spk_extra = sys.argv[1:5]
SEP = re.compile(rb"[ \t]+")

UTT_FILES = ["utt2spk", "text", "feats.scp", "segments", "utt2dur", "utt2num_frames",
             "utt2lang", "utt2uniq", "vad.scp", "utt2task", "utt2taskinfo"]
SPARSE_UTT_FILES = ["utt2emotion", "utt2event", "utt2style", "utt2gender", "utt2age",
                    "utt2answer", "utt2question"]
RECO_FILES = ["wav.scp", "reco2dur", "reco2file_and_channel"]
SPK_FILES = ["spk2gender", "cmvn.scp", "spk2warp"]
for f in utt_extra.split():
    if f in SPARSE_UTT_FILES:  # asked for: required of every utterance
        SPARSE_UTT_FILES.remove(f)
    if f not in UTT_FILES + ["ctm", "corpus"]:
        UTT_FILES.append(f)
for f in spk_extra.split():
    if f not in SPK_FILES:
        SPK_FILES.append(f)
# Fields a line must have to count as well formed.
NFIELDS = {"utt2spk": (2, 2), "segments": (4, 4), "feats.scp": (2, 2), "utt2dur": (2, 2),
           "utt2num_frames": (2, 2), "reco2dur": (2, 2), "spk2gender": (2, 2)}


def fail(msg):
    sys.stderr.write(f"{prog}: {msg}\n")
    sys.exit(1)


def path(name):
    return os.path.join(data, name)


def show(b):
    return b.decode("utf-8", errors="backslashreplace")


def read_table(name):
    """Returns {key: (fields, line)} for <data>/<name>, dropping blank and
    repeated lines; two different lines with one key are an error."""
    with open(path(name), "rb") as f:
        lines = f.read().split(b"\n")
    table = {}
    for line in lines:
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        line = line.strip(b" \t")
        fields = SEP.split(line)
        key = fields[0]
        if key in table:
            if table[key][1] != line:
                fail(f"{path(name)}: key {show(key)} appears on two different lines; "
                     f"fix that by hand (it cannot tell which one is right)")
            continue
        table[key] = (fields, line)
    return table


present = [n for n in UTT_FILES + SPARSE_UTT_FILES + RECO_FILES + SPK_FILES + ["spk2utt", "ctm"]
           if os.path.isfile(path(n))]
tables = {n: read_table(n) for n in present if n not in ("spk2utt", "ctm")}

bad_format = {}
for name, (lo, hi) in NFIELDS.items():
    if name in tables:
        for key, (fields, _) in tables[name].items():
            if not lo <= len(fields) <= hi:
                bad_format.setdefault(name, []).append(key)
if bad_format:
    for name, keys in bad_format.items():
        print(f"{prog}: {path(name)}: ignoring {len(keys)} malformed line(s), e.g. the one for {show(keys[0])}")
        for k in keys:
            del tables[name][k]

all_utts = set(read_table("utt2spk"))
kept = set(tables["utt2spk"])
for name in UTT_FILES:
    if name in tables:
        kept &= set(tables[name])
if "wav.scp" in tables:
    if "segments" in tables:
        kept = {u for u in kept if tables["segments"][u][0][1] in tables["wav.scp"]}
    else:
        kept &= set(tables["wav.scp"])
if not kept:
    fail(f"no utterance of {path('utt2spk')} is in all of the files "
         f"({', '.join(n for n in present if n in UTT_FILES or n == 'wav.scp')}); not changing anything")

if "segments" in tables:
    recos = {tables["segments"][u][0][1] for u in kept}
else:
    recos = kept
spks = {tables["utt2spk"][u][0][1] for u in kept}

backup = path(".backup")
os.makedirs(backup, exist_ok=True)
for name in present:
    shutil.copyfile(path(name), os.path.join(backup, name))


def write(name, lines):
    tmp = path(name) + ".tmp"
    with open(tmp, "wb") as f:
        for line in lines:
            f.write(line + b"\n")
    os.replace(tmp, path(name))


for name, table in tables.items():
    keep = kept if name in UTT_FILES + SPARSE_UTT_FILES else recos if name in RECO_FILES else spks
    lines = [table[k][1] for k in sorted(keep & set(table))]
    write(name, lines)
    dropped = len(table) - len(lines)
    if dropped:
        print(f"{prog}: {path(name)}: removed {dropped} line(s)")

if "ctm" in present:  # several lines per utterance: keep their order within an utterance
    with open(path("ctm"), "rb") as f:
        rows = [ln.rstrip(b"\r") for ln in f.read().split(b"\n") if ln.strip()]
    kept_rows = [r for r in rows if SEP.split(r.strip(b" \t"))[0] in kept]
    kept_rows.sort(key=lambda r: SEP.split(r.strip(b" \t"))[0])  # stable
    write("ctm", kept_rows)
    if len(kept_rows) < len(rows):
        print(f"{prog}: {path('ctm')}: removed {len(rows) - len(kept_rows)} line(s)")

spk2utt = {}
for u in sorted(kept):
    spk2utt.setdefault(tables["utt2spk"][u][0][1], []).append(u)
write("spk2utt", [b" ".join([s] + spk2utt[s]) for s in sorted(spk2utt)])

removed = sorted(all_utts - kept)
write(os.path.join(".backup", "removed_utts"), removed)
print(f"{prog}: kept {len(kept)} utterances out of {len(all_utts)}")
if removed:
    print(f"{prog}: the ids of the {len(removed)} removed utterances are in {os.path.join(backup, 'removed_utts')}")
EOF
