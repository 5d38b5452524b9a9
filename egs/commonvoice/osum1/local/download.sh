#!/usr/bin/env bash
# Common Voice (CC0) needs an e-mail address on its site, so it cannot be fetched by a
# script: download a release's English archive from https://commonvoice.mozilla.org/datasets
# (or Kaggle's "Common Voice" dataset, https://www.kaggle.com/datasets/mozillaorg/common-voice,
# the layout the OSUM report's SGC and SAP figures use), then give the archive to this
# script, which checks it and unpacks it; point COMMONVOICE in db.sh at the dir it names.
#   local/download.sh cv-corpus-17.0-2024-03-15-en.tar.gz [SHA256]
#   local/download.sh common-voice.zip                     # Kaggle's
# No checksum can be kept here (each release has its own archive); where the download page
# shows the archive's sha256, give it as SHA256 and it is compared. Without it, what can
# be checked is the archive's own CRC-32s (gzip's or the zip's: a cut or damaged download).
set -euo pipefail
. ./path.sh
. ./db.sh
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "local/download.sh: see the comments in this file for where to get Common Voice, then:" \
    "local/download.sh ARCHIVE [SHA256]" >&2
  exit 1
fi
archive=$1
[ $# -eq 2 ] && python -m osum.corpora.checksums --sha256 "$2" "${archive}"
python -m osum.corpora.checksums --archive "${archive}"
dest=downloads
mkdir -p "${dest}"
case "${archive}" in
  *.zip) unzip -q -n "${archive}" -d "${dest}/kaggle-cv"
         echo "local/download.sh: unpacked in ${dest}/kaggle-cv: set COMMONVOICE to the dir" \
           "holding cv-valid-test.csv" >&2 ;;
  *) tar -xzf "${archive}" -C "${dest}"
     echo "local/download.sh: unpacked in ${dest}: set COMMONVOICE to its <release>/en dir" >&2 ;;
esac
