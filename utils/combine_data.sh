#!/usr/bin/env bash
# combine_data.sh: combine several Kaldi-style data directories into one.
#
# Usage: combine_data.sh [--extra_files "<file1> ..."] [--skip_fix true|false]
#                        <dest-data-dir> <src-data-dir1> <src-data-dir2> ...
#   e.g. combine_data.sh data/train data/train_part1 data/train_part2
#
# * The files wav.scp, text, utt2spk, segments, feats.scp, utt2dur,
#   utt2num_frames, reco2dur, spk2gender and the --extra_files (taken to be
#   per-utterance files) are concatenated over the sources and sorted
#   (LC_ALL=C, on the first field).  Repeated identical lines are merged (e.g.
#   a recording shared by two sources); the same key with different contents
#   is an error naming the file and the key.
# * Every source must have utt2spk.  A file that only some sources have is
#   left out of the result, with a warning -- except segments: a source
#   without segments gets one whole-recording segment per utterance
#   ("<utt> <utt> 0 -1"), as in Kaldi -- and osum's task files below.
# * osum's task files are always carried (naming them in --extra_files
#   changes nothing), so that no utterance quietly becomes ASR:
#     utt2task      a source without it gets "<utt> ASR" lines (what no utt2task
#                   means), with a note;
#     utt2taskinfo  (derived by osum.bin.prepare_task_info) all sources or none:
#                   in only some is an error naming the ones without it;
#     utt2emotion utt2event utt2style utt2gender utt2age utt2answer
#     utt2question  list only the utterances that need them: the union;
#     ctm           several lines per utterance: all lines of every source,
#                   grouped by utterance (sorted stably, keeping each
#                   utterance's word order); an utterance in two sources with
#                   different word lines is an error;
#     corpus        one line about the whole set: the sources' distinct lines
#                   joined by " + " (left out, with a warning, when only some
#                   sources have one).
# * The known files and spk2utt are removed from <dest-data-dir> before
#   writing, so nothing stale is left there; spk2utt is regenerated.
# * Finally utils/fix_data_dir.sh is run on the result (with the extra files
#   but the task files as --utt_extra_files) unless --skip_fix true.

set -euo pipefail

extra_files=""
skip_fix=false
help_message="Usage: $0 [--extra_files \"<file1> ...\"] [--skip_fix true|false] <dest-data-dir> <src-data-dir1> <src-data-dir2> ..."

# shellcheck source=utils/parse_options.sh
. "$(dirname "$0")/parse_options.sh"

prog=$(basename "$0")
if [ $# -lt 2 ]; then
  echo "$help_message" >&2
  exit 1
fi
dest=$1
shift

export LC_ALL=C
python3 - "$prog" "$dest" "$extra_files" "$@" <<'EOF'
import os
import re
import sys

prog, dest, extra = sys.argv[1:4]
srcs = sys.argv[4:]
SEP = re.compile(rb"[ \t]+")
FILES = ["wav.scp", "text", "utt2spk", "segments", "feats.scp", "utt2dur",
         "utt2num_frames", "reco2dur", "spk2gender"]
# osum's task files (osum/data/task_files.py): always carried, each in its own way
TASK_DEFAULT = {"utt2task": b"ASR"}  # a source without it: every utterance is ASR
ALL_OR_NONE = ["utt2taskinfo"]
SPARSE = ["utt2emotion", "utt2event", "utt2style", "utt2gender", "utt2age", "utt2answer",
          "utt2question"]
TASK_FILES = list(TASK_DEFAULT) + ALL_OR_NONE + SPARSE + ["ctm", "corpus"]
for f in extra.split():
    if f not in FILES and f not in TASK_FILES:
        FILES.append(f)


def fail(msg):
    sys.stderr.write(f"{prog}: {msg}\n")
    sys.exit(1)


def show(b):
    return b.decode("utf-8", errors="backslashreplace")


for s in srcs:
    if not os.path.isdir(s):
        fail(f"no such directory {s}")
    if not os.path.isfile(os.path.join(s, "utt2spk")):
        fail(f"no such file {os.path.join(s, 'utt2spk')}")
    if os.path.exists(dest) and os.path.samefile(s, dest):
        fail(f"the destination {dest} is also a source directory")


def read_lines(p):
    with open(p, "rb") as f:
        for n, line in enumerate(f.read().split(b"\n"), start=1):
            line = line.rstrip(b"\r").strip(b" \t")
            if line:
                yield n, line


def first_fields(p):
    return [SEP.split(line)[0] for _, line in read_lines(p)]


# Everything is read and checked before anything is written to <dest>.
combined = {}  # file name -> [(line, where it came from)], sorted
for name in FILES + list(TASK_DEFAULT) + ALL_OR_NONE + SPARSE:
    have = [s for s in srcs if os.path.isfile(os.path.join(s, name))]
    if not have:
        continue
    missing = [s for s in srcs if s not in have]
    if missing and name in ALL_OR_NONE:
        fail(f"{name} is in {', '.join(have)} but not in {', '.join(missing)}: make it there "
             f"(python -m osum.bin.prepare_task_info <dir>) or remove it from every source, "
             f"so that each utterance of {dest} has one")
    if missing and name not in ("segments", *TASK_DEFAULT, *SPARSE):
        sys.stderr.write(f"{prog}: warning: {name} is only in {len(have)} of the {len(srcs)} source "
                         f"directories (not in {', '.join(missing)}), so it is left out of {dest}\n")
        continue
    entries = {}   # key -> (line, where)
    for s in srcs:
        p = os.path.join(s, name)
        if os.path.isfile(p):
            rows = ((f"{p}: line {n}", line) for n, line in read_lines(p))
        elif name in TASK_DEFAULT:
            value = TASK_DEFAULT[name]
            sys.stderr.write(f"{prog}: {s} has no {name}; its utterances are {value.decode()} "
                             f"(as without one)\n")
            rows = ((f"{s}/utt2spk", b"%s %s" % (u, value)) for u in first_fields(os.path.join(s, "utt2spk")))
        elif name in SPARSE:  # only the utterances that need it: none of this source's
            continue
        else:  # segments missing in this source: whole-recording segments
            sys.stderr.write(f"{prog}: {s} has no segments; using one whole-recording segment per utterance\n")
            rows = ((f"{s}/utt2spk", b"%s %s 0 -1" % (u, u)) for u in first_fields(os.path.join(s, "utt2spk")))
        for where, line in rows:
            key = SEP.split(line)[0]
            if key in entries:
                if entries[key][0] != line:
                    fail(f"{name}: key {show(key)} has different contents in {entries[key][1]} and {where}")
                continue
            entries[key] = (line, where)
    combined[name] = [entries[key] for key in sorted(entries)]

# ctm: several lines per utterance; an utterance's lines stay together and in order
ctm = {}  # utt -> (lines, where)
for s in srcs:
    p = os.path.join(s, "ctm")
    if not os.path.isfile(p):
        continue
    here = {}
    for n, line in read_lines(p):
        here.setdefault(SEP.split(line)[0], []).append(line)
    for utt, lines in here.items():
        if utt in ctm and ctm[utt][0] != lines:
            fail(f"ctm: utterance {show(utt)} has different word lines in {ctm[utt][1]} and {p}")
        ctm.setdefault(utt, (lines, p))
if ctm:
    combined["ctm"] = [(line, None) for utt in sorted(ctm) for line in ctm[utt][0]]

# corpus: one line about the whole set
have = [s for s in srcs if os.path.isfile(os.path.join(s, "corpus"))]
if have and len(have) < len(srcs):
    missing = [s for s in srcs if s not in have]
    sys.stderr.write(f"{prog}: warning: corpus is only in {len(have)} of the {len(srcs)} source "
                     f"directories (not in {', '.join(missing)}), so it is left out of {dest}\n")
elif have:
    corpora = []
    for s in have:
        for _, line in read_lines(os.path.join(s, "corpus")):
            if line not in corpora:
                corpora.append(line)
    if corpora:
        combined["corpus"] = [(b" + ".join(corpora), None)]

spk2utt = {}
for line, where in combined["utt2spk"]:
    fields = SEP.split(line)
    if len(fields) != 2:
        fail(f"{where}: expected '<utt-id> <spk-id>', got '{show(line)}'")
    spk2utt.setdefault(fields[1], []).append(fields[0])
combined["spk2utt"] = [(b" ".join([spk] + spk2utt[spk]), None) for spk in sorted(spk2utt)]

os.makedirs(dest, exist_ok=True)
for name in FILES + TASK_FILES + ["spk2utt"]:
    if os.path.isfile(os.path.join(dest, name)):
        os.remove(os.path.join(dest, name))
for name, lines in combined.items():
    tmp = os.path.join(dest, f".{name}.tmp")
    with open(tmp, "wb") as f:
        for line, _ in lines:
            f.write(line + b"\n")
    os.replace(tmp, os.path.join(dest, name))
n_utts = sum(len(v) for v in spk2utt.values())
print(f"{prog}: combined {n_utts} utterances from {len(srcs)} directories into {dest}")
EOF

if [ "$skip_fix" != true ]; then
  # the task files are the fix's own (and a label file named there would become required)
  fix_extra=$(for f in $extra_files; do
    case " utt2task utt2taskinfo utt2emotion utt2event utt2style utt2gender utt2age utt2answer utt2question ctm corpus " in
      *" $f "*) ;;
      *) echo "$f" ;;
    esac
  done)
  "$(dirname "$0")/fix_data_dir.sh" --utt_extra_files "$(echo $fix_extra)" "$dest"
fi
