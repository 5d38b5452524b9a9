#!/usr/bin/env bash
# subset_data_dir.sh: make a data directory holding a subset of the
# utterances of another one.
#
# Usage: subset_data_dir.sh <src-data-dir> <N> <dest-data-dir>
#        subset_data_dir.sh --first <src-data-dir> <N> <dest-data-dir>
#        subset_data_dir.sh --last <src-data-dir> <N> <dest-data-dir>
#        subset_data_dir.sh --shortest <src-data-dir> <N> <dest-data-dir>
#        subset_data_dir.sh --utt-list <utt-list> <src-data-dir> <dest-data-dir>
#        subset_data_dir.sh --spk-list <spk-list> <src-data-dir> <dest-data-dir>
#
# Which utterances (in the sorted order of <src>/utt2spk):
#   <N>          N utterances evenly spaced over the whole list
#                (the i-th of them, 0-based, is number floor((i + 1/2) * total / N));
#   --first N    the first N;   --last N   the last N;
#   --shortest N the N shortest, by utt2num_frames if present, else utt2dur
#                (ties broken by utterance id);
#   --utt-list F the utterances listed (first field of each line of F);
#   --spk-list F all utterances of the speakers listed.
# N must be a positive integer no larger than the number of utterances.
# The per-utterance files (utt2spk, text, feats.scp, segments, utt2dur,
# utt2num_frames, utt2lang, utt2uniq, vad.scp, and osum's task files utt2task,
# utt2taskinfo, utt2emotion, utt2event, utt2style, utt2gender, utt2age,
# utt2answer, utt2question) are filtered to the subset, ctm to every line of
# the kept utterances (sorted stably: each utterance's words keep their
# order), the per-recording files (wav.scp, reco2dur, reco2file_and_channel)
# to the recordings used, the per-speaker files (spk2gender, cmvn.scp,
# spk2warp) to the speakers used; spk2utt is regenerated, frame_shift and
# corpus copied.  Files of these names left in <dest> from before are removed
# first.

set -euo pipefail

prog=$(basename "$0")
usage() {
  sed -n '5,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 1
}

mode=evenly
list=""
while [ $# -gt 0 ]; do
  case "$1" in
    --first|--last|--shortest) mode=${1#--}; shift ;;
    --utt-list|--utt_list|--spk-list|--spk_list)
      mode=${1#--}; mode=${mode//_/-}
      [ $# -ge 2 ] || { echo "$prog: option $1 requires a file" >&2; exit 1; }
      list=$2; shift 2 ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) echo "$prog: invalid option $1" >&2; usage ;;
    *) break ;;
  esac
done

case "$mode" in
  utt-list|spk-list)
    [ $# -eq 2 ] || usage
    src=$1; dest=$2; num=0
    [ -f "$list" ] || { echo "$prog: no such file $list (given with --$mode)" >&2; exit 1; } ;;
  *)
    [ $# -eq 3 ] || usage
    src=$1; num=$2; dest=$3
    [[ "$num" =~ ^[1-9][0-9]*$ ]] || { echo "$prog: the number of utterances must be a positive integer, got '$num'" >&2; exit 1; } ;;
esac
[ -d "$src" ] || { echo "$prog: no such directory $src" >&2; exit 1; }
[ -f "$src/utt2spk" ] || { echo "$prog: no such file $src/utt2spk" >&2; exit 1; }

export LC_ALL=C
python3 - "$prog" "$mode" "$list" "$src" "$num" "$dest" <<'EOF'
import os
import re
import shutil
import sys

prog, mode, listfile, src, num, dest = sys.argv[1:7]
num = int(num)
SEP = re.compile(rb"[ \t]+")
UTT_FILES = ["utt2spk", "text", "feats.scp", "segments", "utt2dur", "utt2num_frames",
             "utt2lang", "utt2uniq", "vad.scp",
             # osum's task files (osum/data/task_files.py)
             "utt2task", "utt2taskinfo", "utt2emotion", "utt2event", "utt2style", "utt2gender",
             "utt2age", "utt2answer", "utt2question"]
RECO_FILES = ["wav.scp", "reco2dur", "reco2file_and_channel"]
SPK_FILES = ["spk2gender", "cmvn.scp", "spk2warp"]


def fail(msg):
    sys.stderr.write(f"{prog}: {msg}\n")
    sys.exit(1)


def show(b):
    return b.decode("utf-8", errors="backslashreplace")


def read_table(p):
    """[(key, fields, line)] of the non-blank lines of p, in file order."""
    rows = []
    with open(p, "rb") as f:
        for line in f.read().split(b"\n"):
            line = line.rstrip(b"\r").strip(b" \t")
            if line:
                fields = SEP.split(line)
                rows.append((fields[0], fields, line))
    return rows


if os.path.exists(dest) and os.path.samefile(src, dest):
    fail(f"the destination {dest} is the source directory")

utt2spk = read_table(os.path.join(src, "utt2spk"))
for key, fields, line in utt2spk:
    if len(fields) != 2:
        fail(f"{src}/utt2spk: malformed line for utterance {show(key)}: '{show(line)}'")
utts = sorted({k for k, _, _ in utt2spk})
spk_of = {k: f[1] for k, f, _ in utt2spk}
total = len(utts)

if mode in ("evenly", "first", "last", "shortest") and num > total:
    fail(f"cannot take {num} utterances: {src}/utt2spk has only {total}")

if mode == "evenly":
    chosen = [utts[(2 * i + 1) * total // (2 * num)] for i in range(num)]
elif mode == "first":
    chosen = utts[:num]
elif mode == "last":
    chosen = utts[total - num:]
elif mode == "shortest":
    for name, conv in (("utt2num_frames", int), ("utt2dur", float)):
        p = os.path.join(src, name)
        if os.path.isfile(p):
            break
    else:
        fail(f"--shortest needs {src}/utt2num_frames or {src}/utt2dur")
    length = {}
    for key, fields, line in read_table(p):
        try:
            length[key] = conv(fields[1])
        except (IndexError, ValueError):
            fail(f"{p}: bad line for utterance {show(key)}: '{show(line)}'")
    missing = [u for u in utts if u not in length]
    if missing:
        fail(f"{p}: utterance {show(missing[0])} of {src}/utt2spk is missing ({len(missing)} missing)")
    chosen = sorted(utts, key=lambda u: (length[u], u))[:num]
else:
    with open(listfile, "rb") as f:
        wanted = {SEP.split(l.strip(b" \t\r"))[0] for l in f.read().split(b"\n") if l.strip()}
    if mode == "utt-list":
        chosen = [u for u in utts if u in wanted]
        known = set(utts)
    else:
        chosen = [u for u in utts if spk_of[u] in wanted]
        known = set(spk_of.values())
    unknown = sorted(wanted - known)
    what = "utterance" if mode == "utt-list" else "speaker"
    if unknown:
        sys.stderr.write(f"{prog}: warning: {len(unknown)} {what}(s) of {listfile} are not in {src} "
                         f"(e.g. {show(unknown[0])})\n")
    if not chosen:
        fail(f"none of the {what}s in {listfile} are in {src}")

kept = set(chosen)
spks = {spk_of[u] for u in kept}
seg_path = os.path.join(src, "segments")
if os.path.isfile(seg_path):
    recos = {f[1] for k, f, _ in read_table(seg_path) if k in kept and len(f) == 4}
else:
    recos = kept

os.makedirs(dest, exist_ok=True)


def write(name, lines):
    """<dest>/<name> through a temporary name, so that a reader never sees half of it."""
    tmp = os.path.join(dest, f".{name}.tmp")
    with open(tmp, "wb") as f:
        for line in lines:
            f.write(line + b"\n")
    os.replace(tmp, os.path.join(dest, name))


WHOLE = ["frame_shift", "corpus"]  # about the whole set: copied as they are
for name in UTT_FILES + RECO_FILES + SPK_FILES + WHOLE + ["spk2utt", "ctm"]:
    if os.path.isfile(os.path.join(dest, name)):
        os.remove(os.path.join(dest, name))
for names, keep in ((UTT_FILES, kept), (RECO_FILES, recos), (SPK_FILES, spks)):
    for name in names:
        p = os.path.join(src, name)
        if os.path.isfile(p):
            rows = sorted(read_table(p), key=lambda r: (r[0], r[2]))
            write(name, [line for key, _, line in rows if key in keep])
if os.path.isfile(os.path.join(src, "ctm")):  # several lines per utterance, in word order
    rows = sorted(read_table(os.path.join(src, "ctm")), key=lambda r: r[0])  # stable
    write("ctm", [line for key, _, line in rows if key in kept])
spk2utt = {}
for u in sorted(kept):
    spk2utt.setdefault(spk_of[u], []).append(u)
write("spk2utt", [b" ".join([spk] + spk2utt[spk]) for spk in sorted(spk2utt)])
for name in WHOLE:
    if os.path.isfile(os.path.join(src, name)):
        shutil.copyfile(os.path.join(src, name), os.path.join(dest, f".{name}.tmp"))
        os.replace(os.path.join(dest, f".{name}.tmp"), os.path.join(dest, name))
print(f"{prog}: created {dest} with {len(kept)} of the {total} utterances of {src}")
EOF
