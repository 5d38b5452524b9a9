"""Data: Kaldi data dirs and their checks, task files, mixing, the dump (stage 2), and the
synthetic corpus of the mini recipe; the corpus preparers are in osum.corpora."""
