#!/usr/bin/env bash
# Downloads the pretrained models of the real-scale configs from the Hugging Face Hub into
# the dirs the configs read (egs/TEMPLATE/osum1/conf/train_*.yaml: encoder_conf.init
# pretrained/whisper-medium, llm_conf.path pretrained/Qwen2-7B-Instruct, relative to the
# recipe dir). Run it once in a recipe dir, or with --dir somewhere shared and point
# pretrained.sh (encoder_init=, llm_path=) there. Training never downloads: it reads
# these local dirs only, and stage 3 checks them first.
#
# Usage: utils/download_pretrained.sh [--dir pretrained] [--whisper openai/whisper-medium]
#          [--llm Qwen/Qwen2-7B-Instruct] [--revision main]
# Needs network access to the Hub (HF_ENDPOINT for a mirror, HF_TOKEN for gated models).
set -euo pipefail

dir=pretrained                 # where the model dirs go
whisper=openai/whisper-medium  # Hub id of the Whisper model ("" skips it)
llm=Qwen/Qwen2-7B-Instruct     # Hub id of the LLM and its tokenizer ("" skips it)
revision=main                  # a branch, tag or commit of both
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"

[ $# -eq 0 ] || { echo "usage: $0 [--dir D] [--whisper ID] [--llm ID] [--revision R]" >&2; exit 1; }

fetch() {  # hub id, target dir, file patterns
  local id=$1 out=$2; shift 2
  echo "$(date '+%F %T') (download_pretrained) ${id} -> ${out}" >&2
  # the one step that goes online: the environment (tools/activate_python.sh) is offline
  HF_HUB_OFFLINE=0 python - "${id}" "${out}" "${revision}" "$@" <<'EOF'
import sys

from huggingface_hub import snapshot_download

repo, out, revision, *patterns = sys.argv[1:]
try:
    snapshot_download(repo, revision=revision, local_dir=out, allow_patterns=patterns)
except Exception as e:  # the hub's own errors say what went wrong (offline, gated, no such repo)
    sys.exit(f"download_pretrained: {repo} -> {out}: {type(e).__name__}: {e}")
EOF
}

weights=("*.json" "*.safetensors" "*.txt" "*.model" "*.tiktoken")
[ -z "${whisper}" ] || fetch "${whisper}" "${dir}/$(basename "${whisper}")" "${weights[@]}"
[ -z "${llm}" ] || fetch "${llm}" "${dir}/$(basename "${llm}")" "${weights[@]}"
echo "$(date '+%F %T') (download_pretrained) done: $(ls "${dir}" | tr '\n' ' ')" >&2
