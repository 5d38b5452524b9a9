#!/usr/bin/env bash
# Downloads Expresso (CC BY-NC 4.0, 36 GB) into db.sh's EXPRESSO. Not run by the tests.
# Expresso publishes no checksum for expresso.tar, so what can be checked is that the tar
# reads whole (python -m osum.corpora.checksums --archive: its headers, member by member).
set -euo pipefail
. ./path.sh
. ./db.sh
[ -d "${EXPRESSO}/audio_48khz" ] && exit 0
dest=$(dirname "${EXPRESSO}")
mkdir -p "${EXPRESSO}"
wget -c -P "${dest}" https://dl.fbaipublicfiles.com/textless_nlp/expresso/data/expresso.tar
python -m osum.corpora.checksums --archive "${dest}/expresso.tar"
# the archive's expresso/ -> $EXPRESSO, whatever its name
tar -xf "${dest}/expresso.tar" -C "${EXPRESSO}" --strip-components 1
