#!/usr/bin/env bash
# The sources are downloaded by their own recipes: egs/<recipe>/osum1/local/download.sh.
echo "local/download.sh: run local/download.sh of each recipe in conf/sources.txt" >&2
exit 1
