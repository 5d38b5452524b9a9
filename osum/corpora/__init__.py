"""Corpus preparers: a corpus in its official layout -> Kaldi data dirs with task files.

One module per corpus (``python -m osum.corpora.<corpus> --help``), each called by its
recipe's ``local/data.sh``; :mod:`osum.corpora.common` holds what they share, and
:mod:`osum.corpora.checksums` the checks ``local/download.sh`` runs on what it fetches.
"""
