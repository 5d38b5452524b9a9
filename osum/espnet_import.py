"""Import ESPnet's task machinery without its start-up download attempts.

``espnet2.train.collate_fn`` imports ``espnet2.train.preprocessor``, which imports g2p_en,
which calls ``nltk.download`` for cmudict and a POS tagger at import time. osum never
uses them; that download is disabled while the module is imported, so nothing is
fetched and nothing is printed.
"""

import logging

import nltk

logger = logging.getLogger(__name__)


def _no_download(info_or_id=None, *args, **kwargs):
    logger.debug(f"nltk.download({info_or_id!r}) skipped: osum runs offline")
    return False


_download = nltk.download
nltk.download = _no_download
try:
    import espnet2.tasks.abs_task  # noqa: F401
    import espnet2.train.collate_fn  # noqa: F401
finally:
    nltk.download = _download
