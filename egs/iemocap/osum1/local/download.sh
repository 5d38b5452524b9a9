#!/usr/bin/env bash
# IEMOCAP is released by USC SAIL on request (a license form at
# https://sail.usc.edu/iemocap/iemocap_release.htm); it cannot be fetched by a script,
# and no checksum of its archive is published. Given the archive you were sent, this
# checks what can be checked (the gzip stream is whole: a cut or damaged download), then
# unpacks it beside db.sh's IEMOCAP and checks that Session1/ ... Session5/ are there:
#   local/download.sh /path/to/IEMOCAP_full_release.tar.gz
set -euo pipefail
. ./path.sh
. ./db.sh
if [ $# -ne 1 ]; then
  echo "local/download.sh: IEMOCAP is distributed on request; see the comments in this" \
    "file, then: local/download.sh IEMOCAP_full_release.tar.gz" >&2
  exit 1
fi
archive=$1
python -m osum.corpora.checksums --archive "${archive}"
dest=$(dirname "${IEMOCAP}")
mkdir -p "${IEMOCAP}"
# the archive's IEMOCAP_full_release/ -> $IEMOCAP, whatever its name
tar -xzf "${archive}" -C "${IEMOCAP}" --strip-components 1
for n in 1 2 3 4 5; do
  [ -d "${IEMOCAP}/Session${n}" ] || {
    echo "local/download.sh: ${archive} unpacked into ${dest} has no Session${n}/ in ${IEMOCAP}" >&2
    exit 1; }
done
