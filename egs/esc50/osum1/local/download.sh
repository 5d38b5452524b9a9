#!/usr/bin/env bash
# Downloads ESC-50 (CC BY-NC 3.0, 600 MB) into db.sh's ESC50. Not run by the tests.
set -euo pipefail
. ./db.sh
[ -d "${ESC50}/audio" ] && exit 0
dest=$(dirname "${ESC50}")
mkdir -p "${ESC50}"
wget -c -O "${dest}/ESC-50-master.zip" https://github.com/karolpiczak/ESC-50/archive/master.zip
tmp=$(mktemp -d -p "${dest}")
unzip -q "${dest}/ESC-50-master.zip" -d "${tmp}"       # -> ESC-50-master/
cp -a "${tmp}/ESC-50-master/." "${ESC50}/"             # into $ESC50, whatever its name
rm -rf "${tmp}"
