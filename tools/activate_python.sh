#!/usr/bin/env bash
# Sourced by recipes' path.sh and by the top-level scripts: activates tools/venv.
_osum_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -f "${_osum_tools}/venv/bin/activate" ]; then
  echo "tools/venv is missing: run ${_osum_tools}/install.sh" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
. "${_osum_tools}/venv/bin/activate"
# Debian's sctk keeps sclite and its tools here
[ -d /usr/lib/sctk/bin ] && case ":$PATH:" in *:/usr/lib/sctk/bin:*) ;; *) PATH="$PATH:/usr/lib/sctk/bin" ;; esac
export PATH PYTHONNOUSERSITE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
unset _osum_tools
