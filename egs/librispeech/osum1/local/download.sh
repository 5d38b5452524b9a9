#!/usr/bin/env bash
# Downloads LibriSpeech (openslr 12, CC BY 4.0) into db.sh's LIBRISPEECH, each archive
# checked against the md5 OpenSLR publishes for it
# (https://www.openslr.org/resources/12/md5sum.txt, copied into osum/corpora/checksums.py)
# before it is unpacked, and says where to get the MFA word alignments. Not run by the tests.
# Usage: local/download.sh [subset ...]   (default: the subsets local/data.sh uses)
set -euo pipefail
. ./path.sh
. ./db.sh
subsets=("$@")
[ $# -gt 0 ] || subsets=(train-clean-100 dev-clean test-clean test-other)
dest=$(dirname "${LIBRISPEECH}")
mkdir -p "${LIBRISPEECH}"
for s in "${subsets[@]}"; do
  [ -d "${LIBRISPEECH}/${s}" ] && continue
  wget -c -P "${dest}" "https://www.openslr.org/resources/12/${s}.tar.gz"
  python -m osum.corpora.checksums --corpus librispeech "${dest}/${s}.tar.gz"
  # the archive's LibriSpeech/<subset>, SPEAKERS.TXT, ... -> $LIBRISPEECH, whatever its name
  tar -xzf "${dest}/${s}.tar.gz" -C "${LIBRISPEECH}" --strip-components 1
done
# The word alignments (Montreal Forced Aligner) that SRWT needs cannot be fetched by a
# script (one archive is on Google Drive), and neither publishes a checksum: say where they are
ali=${LIBRISPEECH_ALIGNMENTS:-${LIBRISPEECH}}
echo "local/download.sh: LibriSpeech is in ${LIBRISPEECH}. SRWT also needs word alignments" \
  "in ${ali} (LIBRISPEECH_ALIGNMENTS in db.sh), either" >&2
echo "- CorentinJ's <spk>-<chapter>.alignment.txt: LibriSpeech-Alignments.zip from the" \
  "Google Drive link of https://github.com/CorentinJ/librispeech-alignments; it holds" \
  "LibriSpeech/<subset>/..., so unzip -n LibriSpeech-Alignments.zip -d DIR and set" \
  "LIBRISPEECH_ALIGNMENTS=DIR/LibriSpeech (DIR=$(dirname "${ali}") if that dir is named LibriSpeech)" >&2
echo "- or the per-utterance TextGrids of https://zenodo.org/record/2619474: wget" \
  "https://zenodo.org/record/2619474/files/librispeech_alignments.zip, then" \
  "unzip librispeech_alignments.zip -d ${ali}" >&2
echo "(python -m osum.corpora.checksums --archive FILE.zip checks a zip's own CRCs)" >&2
