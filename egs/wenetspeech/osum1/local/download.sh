#!/usr/bin/env bash
# WenetSpeech (CC BY 4.0) is distributed as encrypted archives: apply at
# https://wenet.org.cn/WenetSpeech/ for the password, then run the official
# utils/download_wenetspeech.sh of https://github.com/wenet-e2e/WenetSpeech, which
# downloads, decrypts and unpacks into a dir with WenetSpeech.json and audio/. Point
# WENETSPEECH in db.sh at that dir. No checksum of its archives is published apart from
# that script, so none is checked here; stage 1 checks the json (and names the line where
# it is not valid) and lists each recording whose opus file is missing.
echo "local/download.sh: WenetSpeech needs a password from its authors; see this file" >&2
exit 1
