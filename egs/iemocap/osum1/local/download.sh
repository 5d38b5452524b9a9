#!/usr/bin/env bash
# IEMOCAP is released by USC SAIL on request (a license form at
# https://sail.usc.edu/iemocap/iemocap_release.htm); it cannot be fetched by a script.
# Unpack IEMOCAP_full_release.tar.gz and point IEMOCAP in db.sh at the
# IEMOCAP_full_release dir.
echo "local/download.sh: IEMOCAP is distributed on request; see the comments in this file" >&2
exit 1
