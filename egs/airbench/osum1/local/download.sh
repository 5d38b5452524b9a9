#!/usr/bin/env bash
# Downloads AIR-Bench's dataset (the HF dataset qyang1021/AIR-Bench-Dataset, Apache 2.0)
# into db.sh's AIRBENCH with git-lfs. Not run by the tests. No separate checksum is
# published: git checks every file against the commit, and git-lfs every large file
# against the sha256 its pointer names, as it downloads it; `git lfs fsck` checks them
# again once they are there.
set -euo pipefail
. ./db.sh
[ -f "${AIRBENCH}/Chat/Chat_meta.json" ] && exit 0
git lfs install
git clone https://huggingface.co/datasets/qyang1021/AIR-Bench-Dataset "${AIRBENCH}"
git -C "${AIRBENCH}" lfs fsck
