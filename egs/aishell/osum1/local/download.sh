#!/usr/bin/env bash
# Downloads AISHELL-1 (openslr 33, Apache 2.0) into db.sh's AISHELL, each archive checked
# against the md5 OpenSLR publishes for it (https://www.openslr.org/resources/33/md5sum.txt,
# copied into osum/corpora/checksums.py) before it is unpacked, and extracts the
# per-speaker archives, as Kaldi's download_and_untar.sh does. Not run by the tests.
set -euo pipefail
. ./path.sh
. ./db.sh
mkdir -p "${AISHELL}"
for part in data_aishell resource_aishell; do
  [ -d "${AISHELL}/${part}" ] && continue
  wget -c -P "${AISHELL}" "https://www.openslr.org/resources/33/${part}.tgz"
  python -m osum.corpora.checksums --corpus aishell "${AISHELL}/${part}.tgz"
  tar -xzf "${AISHELL}/${part}.tgz" -C "${AISHELL}"
done
cd "${AISHELL}/data_aishell/wav"
for f in *.tar.gz; do
  [ -e "$f" ] || continue
  tar -xzf "$f" && rm "$f"
done
