#!/usr/bin/env bash
# Common Voice (CC0) needs an e-mail address on its site, so it cannot be fetched by a
# script: download a release's English archive from https://commonvoice.mozilla.org/datasets
# (or Kaggle's "Common Voice" dataset, https://www.kaggle.com/datasets/mozillaorg/common-voice,
# the layout the OSUM report's SGC and SAP figures use), then unpack it and point
# COMMONVOICE in db.sh at it:
#   tar -xzf cv-corpus-17.0-2024-03-15-en.tar.gz -C downloads   # -> downloads/cv-corpus-17.0-2024-03-15/en
#   unzip common-voice.zip -d downloads/kaggle-cv                # -> downloads/kaggle-cv/cv-valid-test.csv ...
echo "local/download.sh: see the comments in this file for where to get Common Voice" >&2
exit 1
