#!/usr/bin/env bash
# Downloads MELD.Raw (GPL-3.0; about 10 GB) into db.sh's MELD and extracts the split
# archives inside it. Not run by the tests.
# MELD publishes no checksum for MELD.Raw.tar.gz, so what is checked is that the gzip
# stream is whole (its CRC-32 and length: a cut or damaged download). The Hugging Face
# copy's file page shows the SHA256 of its Git LFS object: to check against it too, give
# it: local/download.sh --sha256 <hex>
set -euo pipefail
sha256=""
. ./path.sh
. utils/parse_options.sh
. ./db.sh
dest=$(dirname "${MELD}")
mkdir -p "${dest}"
if [ ! -d "${MELD}" ]; then
  wget -c -P "${dest}" https://huggingface.co/datasets/declare-lab/MELD/resolve/main/MELD.Raw.tar.gz \
    || wget -c -P "${dest}" http://web.eecs.umich.edu/~mihalcea/downloads/MELD.Raw.tar.gz
  if [ -n "${sha256}" ]; then
    python -m osum.corpora.checksums --sha256 "${sha256}" "${dest}/MELD.Raw.tar.gz"
  fi
  python -m osum.corpora.checksums --archive "${dest}/MELD.Raw.tar.gz"
  mkdir -p "${MELD}"  # the archive's MELD.Raw/ -> $MELD, whatever its name
  tar -xzf "${dest}/MELD.Raw.tar.gz" -C "${MELD}" --strip-components 1
fi
for split in train dev test; do
  [ -f "${MELD}/${split}.tar.gz" ] && tar -xzf "${MELD}/${split}.tar.gz" -C "${MELD}"
done
exit 0
