#!/usr/bin/env bash
# Downloads Expresso (CC BY-NC 4.0, 36 GB) into db.sh's EXPRESSO. Not run by the tests.
set -euo pipefail
. ./db.sh
[ -d "${EXPRESSO}/audio_48khz" ] && exit 0
dest=$(dirname "${EXPRESSO}")
mkdir -p "${EXPRESSO}"
wget -c -P "${dest}" https://dl.fbaipublicfiles.com/textless_nlp/expresso/data/expresso.tar
# the archive's expresso/ -> $EXPRESSO, whatever its name
tar -xf "${dest}/expresso.tar" -C "${EXPRESSO}" --strip-components 1
