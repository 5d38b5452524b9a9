#!/usr/bin/env bash
# Downloads ESC-50 (CC BY-NC 3.0, 600 MB) into db.sh's ESC50. Not run by the tests.
# ESC-50 publishes no checksum (the zip is GitHub's archive of the repository's master
# branch, made on request), so what can be checked is: the zip's own CRC-32s (a cut or
# damaged download), then the 2,000 clips meta/esc50.csv lists.
set -euo pipefail
. ./path.sh
. ./db.sh
[ -d "${ESC50}/audio" ] && exit 0
dest=$(dirname "${ESC50}")
mkdir -p "${ESC50}"
wget -c -O "${dest}/ESC-50-master.zip" https://github.com/karolpiczak/ESC-50/archive/master.zip
python -m osum.corpora.checksums --archive "${dest}/ESC-50-master.zip"
tmp=$(mktemp -d -p "${dest}")
unzip -q "${dest}/ESC-50-master.zip" -d "${tmp}"       # -> ESC-50-master/
cp -a "${tmp}/ESC-50-master/." "${ESC50}/"             # into $ESC50, whatever its name
rm -rf "${tmp}"
clips=$(find "${ESC50}/audio" -name '*.wav' | wc -l)
rows=$(($(wc -l < "${ESC50}/meta/esc50.csv") - 1))
if [ "${clips}" -ne 2000 ] || [ "${rows}" -ne 2000 ]; then
  echo "local/download.sh: ${ESC50} has ${clips} clips and ${rows} rows in meta/esc50.csv," \
    "not 2000 of each: delete ${dest}/ESC-50-master.zip and ${ESC50}, and run it again" >&2
  exit 1
fi
