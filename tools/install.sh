#!/usr/bin/env bash
# Installs what osum needs on a fresh machine, then does nothing on later calls:
#   1. Debian tools the recipes run: sox, espeak-ng, sctk (sclite), ffmpeg (audio in video
#      and other containers) (apt-get, when missing; Debian puts sclite in
#      /usr/lib/sctk/bin, which tools/activate_python.sh adds to PATH)
#      With --browser also Debian's chromium and its driver, which the demo page's test
#      drives (test/run.sh asks for them)
#   2. tools/venv: a Python 3.11 virtual environment with osum installed editable, with
#      its pinned dependencies (setup.py) and the test extras.
# The venv is rebuilt when setup.py or this script changes (tools/venv/.osum_stamp).
#
# Usage: tools/install.sh [--force] [--browser]
# Environment: PYTHON (default: python3.11, else python3) picks the interpreter.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
venv=tools/venv
log() { echo "$(date '+%F %T') (install) $*" >&2; }

force=false
browser=false
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    --browser) browser=true ;;
    *) log "error: unknown option $arg (usage: tools/install.sh [--force] [--browser])"; exit 1 ;;
  esac
done

# 1. Debian packages: binary -> package
declare -A debs=([sox]=sox [espeak-ng]=espeak-ng [sctk]=sctk [ffmpeg]=ffmpeg)
if $browser; then
  debs[chromium]=chromium
  debs[chromedriver]=chromium-driver
fi
missing=()
for bin in "${!debs[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${debs[$bin]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  if ! { $sudo apt-get update -qq && \
         DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >&2; then
    log "error: could not install ${missing[*]}; install them with your package manager"
    exit 1
  fi
fi

# 2. the virtual environment
stamp=$(cat setup.py tools/install.sh | sha256sum | cut -d' ' -f1)
if ! $force && [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.osum_stamp" 2>/dev/null)" = "$stamp" ]; then
  exit 0
fi
python=${PYTHON:-}
if [ -z "$python" ]; then
  python=$(command -v python3.11 || command -v python3)
fi
# the interpreter itself, not a link inside the venv about to be replaced
python=$(readlink -f "$(command -v "$python")")
version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
  log "error: $python is Python $version; osum's pinned set (espnet 202511) needs 3.11 (set PYTHON)"
  exit 1
fi
log "creating $venv with $python (Python $version); this downloads about 6 GB the first time"
rm -rf "$venv"
"$python" -m venv "$venv"
# The pip bundled with Python 3.11 is kept: newer pips refuse a dependency of espnet (ci_sdr).
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[test]"
echo "$stamp" > "$venv/.osum_stamp"
log "done: source tools/activate_python.sh"
