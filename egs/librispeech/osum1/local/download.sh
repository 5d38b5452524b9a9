#!/usr/bin/env bash
# Downloads LibriSpeech (openslr 12, CC BY 4.0) and the MFA word alignments of
# CorentinJ/librispeech-alignments into the paths of db.sh. Not run by the tests.
# Usage: local/download.sh [subset ...]   (default: the subsets run.sh uses)
set -euo pipefail
. ./db.sh
subsets=${*:-"train-clean-100 dev-clean test-clean test-other"}
dest=$(dirname "${LIBRISPEECH}")
mkdir -p "${dest}"
for s in ${subsets}; do
  [ -d "${LIBRISPEECH}/${s}" ] && continue
  wget -c -P "${dest}" "https://www.openslr.org/resources/12/${s}.tar.gz"
  tar -xzf "${dest}/${s}.tar.gz" -C "${dest}"     # -> LibriSpeech/<subset>, SPEAKERS.TXT
done
# Word alignments (Montreal Forced Aligner), one <spk>-<chapter>.alignment.txt per chapter,
# unpacked into the corpus tree; the archive is on Google Drive (see
# https://github.com/CorentinJ/librispeech-alignments): download LibriSpeech-Alignments.zip
# there and run
#   unzip -n LibriSpeech-Alignments.zip -d "$(dirname "${LIBRISPEECH_ALIGNMENTS}")"
# The per-utterance TextGrids of https://zenodo.org/record/2619474 work as well:
#   wget https://zenodo.org/record/2619474/files/librispeech_alignments.zip
#   unzip librispeech_alignments.zip -d "${LIBRISPEECH_ALIGNMENTS}"
