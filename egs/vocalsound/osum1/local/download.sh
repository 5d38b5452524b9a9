#!/usr/bin/env bash
# Downloads VocalSound's 16 kHz release (CC BY-SA 4.0, 1.7 GB) into db.sh's VOCALSOUND.
# Not run by the tests. URL from https://github.com/YuanGongND/vocalsound, which publishes
# no checksum: what can be checked is the zip's own CRC-32s (a cut or damaged download).
set -euo pipefail
. ./path.sh
. ./db.sh
mkdir -p "${VOCALSOUND}"
[ -d "${VOCALSOUND}/audio_16k" ] && exit 0
wget -c -O "${VOCALSOUND}/vs_release_16k.zip" "https://www.dropbox.com/s/c5ace70qh1vbyzb/vs_release_16k.zip?dl=1"
python -m osum.corpora.checksums --archive "${VOCALSOUND}/vs_release_16k.zip"
unzip -q "${VOCALSOUND}/vs_release_16k.zip" -d "${VOCALSOUND}"
