"""Checks of downloaded corpus archives against the checksums their publishers give.

    python -m osum.corpora.checksums --corpus librispeech downloads/test-clean.tar.gz
    python -m osum.corpora.checksums --sha256 <hex> cv-corpus-17.0-2024-03-15-en.tar.gz
    python -m osum.corpora.checksums --archive IEMOCAP_full_release.tar.gz

``local/download.sh`` of each recipe runs it on what it fetched (or on the archive a user
downloaded through a licence form) before unpacking. :data:`PUBLISHED` holds the
checksums a corpus publishes, each with where it is published; a corpus that publishes
none is not in it, and for its archives ``--archive`` checks what can be checked without
one: that a ``.tar.gz``/``.tgz`` decompresses whole (gzip's CRC-32 and length), that a
``.zip``'s members match their CRC-32s, that a ``.tar``'s headers read. That catches a cut
or damaged download, not a changed file: only a published checksum does.
"""

import argparse
import gzip
import hashlib
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Dict, Tuple

CHUNK = 1 << 20  # bytes read at a time

# {corpus: {archive file name: (algorithm, hex digest)}}, as the publisher gives them
PUBLISHED: Dict[str, Dict[str, Tuple[str, str]]] = {
    # OpenSLR SLR12, https://www.openslr.org/resources/12/md5sum.txt
    "librispeech": {
        "dev-clean.tar.gz": ("md5", "42e2234ba48799c1f50f24a7926300a1"),
        "dev-other.tar.gz": ("md5", "c8d0bcc9cca99d4f8b62fcc847357931"),
        "test-clean.tar.gz": ("md5", "32fa31d27d2e1cad72775fee3f4849a9"),
        "test-other.tar.gz": ("md5", "fb5a50374b501bb3bac4815ee91d3135"),
        "train-clean-100.tar.gz": ("md5", "2a93770f6d5c6c964bc36631d331a522"),
        "train-clean-360.tar.gz": ("md5", "c0e676e450a7ff2f54aeade5171606fa"),
        "train-other-500.tar.gz": ("md5", "d1a0fd59409feb2c614ce4d30c387708"),
    },
    # OpenSLR SLR33, https://www.openslr.org/resources/33/md5sum.txt
    "aishell": {
        "data_aishell.tgz": ("md5", "2f494334227864a8a8fec932999db9d8"),
        "resource_aishell.tgz": ("md5", "957d480a0fcac85fc18e550756f624e5"),
    },
}
SOURCES = {
    "librispeech": "https://www.openslr.org/resources/12/md5sum.txt",
    "aishell": "https://www.openslr.org/resources/33/md5sum.txt",
}


class ChecksumError(ValueError):
    """A file is not the one its checksum names, or an archive is damaged."""


def file_digest(path, algorithm: str) -> str:
    """The hex digest of ``path``'s bytes (``md5``, ``sha1``, ``sha256`` ...)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


def verify(path, algorithm: str, expected: str, source: str = "") -> None:
    """ChecksumError unless ``path``'s ``algorithm`` digest is ``expected``, saying both,
    where the expected one is published (``source``), and what to do."""
    got = file_digest(path, algorithm)
    if got != expected.strip().lower():
        where = f" (published at {source})" if source else ""
        raise ChecksumError(
            f"{path}: its {algorithm} is {got}, not {expected}{where}: the download is cut "
            "short or damaged; delete it and download it again"
        )


def verify_published(path, corpus: str) -> None:
    """:func:`verify` against the checksum ``corpus`` publishes for the file's name."""
    path = Path(path)
    if corpus not in PUBLISHED:
        raise ChecksumError(
            f"no published checksums of {corpus!r}; those of {sorted(PUBLISHED)} are known "
            "(--archive checks an archive without one)"
        )
    table = PUBLISHED[corpus]
    if path.name not in table:
        raise ChecksumError(
            f"{path.name} is not among {corpus}'s published archives: {', '.join(table)}"
        )
    algorithm, expected = table[path.name]
    verify(path, algorithm, expected, SOURCES.get(corpus, ""))


def verify_archive(path) -> None:
    """ChecksumError when the archive ``path`` is damaged as far as its own format tells:
    a gzip stream that does not decompress whole (CRC-32, length), a zip member whose
    CRC-32 does not match, a tar whose headers do not read."""
    path = Path(path)
    name = path.name.lower()
    try:
        if name.endswith((".tar.gz", ".tgz", ".gz")):
            with gzip.open(path, "rb") as f:
                while f.read(CHUNK):
                    pass
        elif name.endswith(".zip"):
            with zipfile.ZipFile(path) as z:
                bad = z.testzip()
            if bad is not None:
                raise ChecksumError(f"{path}: member {bad} does not match its CRC-32")
        elif name.endswith(".tar"):
            with tarfile.open(path) as t:
                for _ in t:
                    pass
        else:
            raise ChecksumError(f"{path}: not a .tar.gz, .tgz, .zip or .tar archive")
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError) as e:
        raise ChecksumError(
            f"{path}: a damaged or incomplete archive ({e}); delete it and download it again"
        ) from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="the downloaded archives")
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument("--corpus", choices=sorted(PUBLISHED), help="its published checksums")
    how.add_argument("--md5", help="the md5 the publisher gives (one file)")
    how.add_argument("--sha256", help="the sha256 the publisher gives (one file)")
    how.add_argument("--archive", action="store_true", help="only the archive's own checks")
    args = parser.parse_args(argv)
    if (args.md5 or args.sha256) and len(args.files) != 1:
        parser.error("--md5 and --sha256 check one file")
    try:
        for f in args.files:
            if args.corpus:
                verify_published(f, args.corpus)
            elif args.md5 or args.sha256:
                verify(f, "md5" if args.md5 else "sha256", args.md5 or args.sha256)
            else:
                verify_archive(f)
            print(f"checksums: {f}: OK", file=sys.stderr)
    except (ChecksumError, OSError) as e:
        sys.exit(f"checksums: {e}")


if __name__ == "__main__":
    main()
