"""What every corpus preparer shares: layout checks, label maps, and the data dir writer.

A preparer (``osum.corpora.<corpus>``) reads a corpus in its official layout and writes
Kaldi data dirs through :class:`DataDir`, which keeps what is good and lists what is not:
an utterance whose audio is missing, whose transcript is empty, or whose label the
recipe's label map does not know is skipped with the reason in ``<dir>/skipped``, and the
summary says how many. Nothing stops half way; an empty result is an error that shows the
reasons. A line of a transcript or metadata file that is not valid UTF-8 is one bad line,
not a stopped preparer: :func:`text_lines` and its kin leave it out, name its file and
line on stderr and hand it to the preparer as a :class:`BadLine` to list.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import (
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    NamedTuple,
    Sequence,
    Tuple,
)

import yaml

from osum.data.audio import audio_info, is_pipe
from osum.data.mix import keep_fraction
from osum.data.task_files import LABEL_FILES, TASK_FILES
from osum.files import write_text


class LayoutError(RuntimeError):
    """The corpus is not where, or not what, the preparer expected."""


def preparer_parser(doc: str) -> argparse.ArgumentParser:
    """The argument parser of a preparer, described by the first line of its docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0])


def run_preparer(
    name: str,
    parser: argparse.ArgumentParser,
    prepare: Callable[[argparse.Namespace], object],
    argv: Sequence[str] | None = None,
    extra_errors: Tuple[type, ...] = (),
) -> None:
    """A preparer's command line: parse ``argv``, call ``prepare(args)``, and stop with
    ``<name>: <message>`` (exit status 1) on an error that is the corpus's or the
    options' (:class:`LayoutError`, ValueError, OSError and ``extra_errors``), not a
    traceback. argparse's own errors exit with status 2, as ever."""
    args = parser.parse_args(argv)
    try:
        prepare(args)
    except (LayoutError, ValueError, OSError, *extra_errors) as e:
        sys.exit(f"{name}: {e}")


def check_tasks(name: str, tasks: Sequence[str], known: Sequence[str]) -> None:
    """ValueError naming the tasks of ``tasks`` that are not among ``known``."""
    bad = [t for t in tasks if t not in known]
    if bad:
        raise ValueError(f"{name}: tasks {bad} are not among {list(known)}")


def check_layout(corpus: str, root, expected: Sequence[Tuple[str, str]], hint: str = "") -> Path:
    """Check ``root`` has every (relative path or glob, what it is) of ``expected``.

    Raises :class:`LayoutError` listing all that are missing, so one look at the message
    tells what the preparer wanted where.
    """
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{corpus}: {root} is not a directory. {hint}".strip())
    missing = []
    for pattern, what in expected:
        found = (
            any(root.glob(pattern))
            if any(c in pattern for c in "*?[")
            else (root / pattern).exists()
        )
        if not found:
            missing.append(f"  {root / pattern}  ({what})")
    if missing:
        raise LayoutError(
            f"{corpus}: {root} does not have the expected layout; missing:\n"
            + "\n".join(missing)
            + (f"\n{hint}" if hint else "")
        )
    return root


def load_label_map(path, field: str) -> Dict[str, str | None]:
    """The recipe's map of a corpus's labels onto the task's, from YAML ``{field: {a: b}}``.

    A label mapped to ``null`` is dropped on purpose (its utterances are skipped and
    listed as such); a label missing from the map is skipped as unknown, unless the map
    has ``"*"``, the label of everything it does not list (ESC-50's 46 other classes).
    """
    try:
        with open(path, encoding="utf-8") as f:
            conf = yaml.safe_load(f) or {}
    except UnicodeDecodeError as e:
        raise LayoutError(f"{path}: not valid UTF-8 (byte at {e.start})") from None
    if field not in conf or not isinstance(conf[field], Mapping):
        raise LayoutError(f"{path}: no '{field}:' mapping (corpus label: task label)")
    return {str(k).strip().lower(): (None if v is None else str(v)) for k, v in conf[field].items()}


def map_label(label_map: Mapping[str, str | None], label: str, field: str, where: str):
    """(task label, None) or (None, reason to skip)."""
    key = label.strip().lower()
    if key not in label_map and "*" in label_map:
        key = "*"
    if key not in label_map:
        return None, f"{field} {label!r} is not in the label map ({where})"
    if label_map[key] is None:
        return None, f"{field} {label!r} is dropped by the label map ({where})"
    return label_map[key], None


def short_row(row: Mapping[str, str | None], columns: Sequence[str]) -> str | None:
    """Why a ``csv.DictReader`` row lacks cells it needs (a row shorter than the header
    leaves them None), or None when it has them all."""
    missing = [c for c in columns if row.get(c) is None]
    if not missing:
        return None
    return f"a short row: no cell for {', '.join(missing)}"


class BadLine(NamedTuple):
    """A line of a corpus file that does not decode (or a JSON item whose text does not),
    left out by the reader: where it is, why, and how it starts (its undecodable bytes
    written as ``\\xd7``), which for an id-keyed file names the utterance."""

    path: Path
    lineno: int
    reason: str
    head: str

    @property
    def where(self) -> str:
        return f"{self.path}:{self.lineno}"

    @property
    def key(self) -> str:
        """The line's first word: the utterance id of ``<utt> <text>`` lines."""
        words = self.head.split()
        return words[0] if words else ""

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}, skipped: {self.head!r}"


WARN_LINES = 5  # bad lines of one file said on stderr one by one; the rest are counted


def decode_lines(
    path, bad: List[BadLine], encodings: Sequence[str] = ("utf-8",)
) -> Iterator[Tuple[int, str | None]]:
    """(line number, text without its line end) of every line of ``path``, read as bytes
    and decoded line by line with the first of ``encodings`` that decodes it (a UTF-8 byte
    order mark is dropped). The text of a line that decodes with none is None: the line
    is appended to ``bad`` and said on stderr with its file and number, so one bad line
    costs one line, never the file."""
    path = Path(path)
    count, first = 0, 0
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            raw = raw.rstrip(b"\r\n")
            text, error = None, None
            for encoding in encodings:
                try:
                    text = raw.decode(encoding)
                    break
                except UnicodeDecodeError as e:
                    error = error or e
            if text is not None:
                yield lineno, text
                continue
            what = " or ".join(e.upper() for e in encodings)
            reason = (
                f"not valid {what} (byte 0x{raw[error.start]:02x} at byte {error.start + 1} "
                "of the line)"
            )
            line = BadLine(path, lineno, reason, raw[:80].decode("utf-8", "backslashreplace"))
            bad.append(line)
            count, first = count + 1, first or lineno
            if count <= WARN_LINES:
                print(f"warning: {line}", file=sys.stderr)
            yield lineno, None
    if count > WARN_LINES:
        print(
            f"warning: {path}: {count} lines in all are not valid {what} (the first at line "
            f"{first}), each skipped and listed. If the whole file is in another encoding, "
            f"convert it first (e.g. iconv -f GBK -t UTF-8)",
            file=sys.stderr,
        )


def text_lines(
    path, bad: List[BadLine], encodings: Sequence[str] = ("utf-8",)
) -> Iterator[Tuple[int, str]]:
    """(line number, text) of the lines of ``path`` that decode (:func:`decode_lines`)."""
    for lineno, text in decode_lines(path, bad, encodings):
        if text is not None:
            yield lineno, text


def csv_lines(path, bad: List[BadLine], encodings: Sequence[str] = ("utf-8",)) -> Iterator[str]:
    """The lines of ``path`` for the csv module: a line that does not decode becomes an
    empty line (which the readers pass over), so ``reader.line_num`` stays the line of
    the file."""
    for _, text in decode_lines(path, bad, encodings):
        yield (text or "") + "\n"


_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # a byte surrogateescape kept


def bad_text(value) -> str | None:
    """``byte 0x..`` of the first byte that was not UTF-8 in the strings of a value read
    with ``errors="surrogateescape"`` (dict keys included), or None when there is none."""
    if isinstance(value, str):
        m = _ESCAPED_BYTE.search(value)
        return f"byte 0x{ord(m.group()) - 0xDC00:02x}" if m else None
    if isinstance(value, dict):
        value = [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        for v in value:
            found = bad_text(v)
            if found:
                return found
    return None


def read_json(path, bad: List[BadLine]):
    """The JSON value in ``path``; the lines that are not valid UTF-8 are listed in ``bad``
    (and said on stderr), and their strings keep the bytes as :func:`bad_text` finds
    them, so that the caller skips the records that hold them. ValueError naming the
    file when it is not JSON."""
    for _ in decode_lines(path, bad):
        pass
    try:
        text = Path(path).read_bytes().decode("utf-8", "surrogateescape")
        return json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON at line {e.lineno}: {e.msg}") from None


def task_copies(utt: str, tasks: Sequence[str], fractions: Mapping[str, float] | None = None):
    """(task, utterance id) of each task an utterance serves: ``<utt>`` for ASR,
    ``<utt>-<task>`` (lower case) for the others, a ``fractions[task]`` share of them
    (:func:`osum.data.mix.keep_fraction` with the task as its salt)."""
    for task in tasks:
        if keep_fraction(utt, task, (fractions or {}).get(task, 1.0)):
            yield task, (utt if task == "ASR" else f"{utt}-{task.lower()}")


def parse_fractions(items: Iterable[str], tasks: Sequence[str]) -> Dict[str, float]:
    """``["SGC=0.2", ...]`` -> {"SGC": 0.2}, for tasks among ``tasks``."""
    out = {}
    for item in items:
        task, _, value = item.partition("=")
        try:
            out[task] = float(value)
        except ValueError:
            raise ValueError(f"--fraction {item!r}: expected TASK=FRACTION, e.g. SGC=0.2") from None
        if not 0 <= out[task] <= 1:
            raise ValueError(f"--fraction {item!r}: the fraction must be in [0, 1]")
        if task not in tasks:  # a recipe's default for a task left out with --tasks
            print(
                f"--fraction {item}: {task} is not among the tasks {list(tasks)}; ignored",
                file=sys.stderr,
            )
            del out[task]
    return out


class _JSONStream:
    """Characters of a text file read in chunks, for :func:`iter_json_items`."""

    max_item = 1 << 28  # characters: a longer item is taken to be broken JSON

    def __init__(self, f, chunk: int):
        self.f, self.chunk = f, chunk
        self.buf, self.pos, self.offset, self.eof = "", 0, 0, False
        self.counted, self.lines = 0, 1  # line number at buf[counted]

    def more(self) -> bool:
        if self.eof:
            return False
        text = self.f.read(self.chunk)
        if not text:
            self.eof = True
            return False
        if self.pos > self.chunk:  # drop what was consumed; keep memory at a few chunks
            self.line()  # count the lines of what is dropped
            self.offset += self.pos
            self.buf, self.pos, self.counted = self.buf[self.pos :], 0, self.counted - self.pos
        self.buf += text
        return True

    def line(self) -> int:
        """The line number at the current position (lines are counted once, as it moves)."""
        self.lines += self.buf.count("\n", self.counted, self.pos)
        self.counted = self.pos
        return self.lines

    def peek(self) -> str:
        """The next character that is not white space ("" at the end of the file)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.buf) or not self.more():
                return self.buf[self.pos : self.pos + 1]

    def expect(self, chars: str, what: str) -> str:
        c = self.peek()
        if not c or c not in chars:
            raise ValueError(
                f"{self.f.name}: expected {what} at line {self.line()}, character "
                f"{self.offset + self.pos}, found {c or 'the end of the file'!r}"
            )
        self.pos += 1
        return c

    def value(self, decoder: json.JSONDecoder):
        """The next complete JSON value, reading more of the file until it is whole."""
        self.peek()
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                # an item cut by the chunk's end, unless it is already unreasonably long
                if len(self.buf) - self.pos < self.max_item and self.more():
                    continue
                self.line()
                where = self.lines + self.buf.count("\n", self.pos, e.pos)
                raise ValueError(
                    f"{self.f.name}: not valid JSON at line {where}, character "
                    f"{self.offset + e.pos}: {e.msg}"
                ) from None
            # a number may go on in the next chunk; anything else ends where it ends
            if end == len(self.buf) and self.more():
                continue
            self.pos = end
            return value


def iter_json_items(path, key: str | None, chunk: int = 1 << 20) -> Iterator[Tuple[int, object]]:
    """(line, item) of the items of the array ``key`` of the JSON object in ``path`` (of
    the array that is the whole file when ``key`` is None), one at a time, ``line`` being
    the line where the item starts.

    The file is read in chunks of ``chunk`` characters and only the item being decoded is
    held, so a metadata file of many gigabytes (WenetSpeech.json) costs the memory of its
    largest item. The object's other members are decoded and dropped. Bytes that are not
    UTF-8 stay in the strings as :func:`bad_text` finds them, so that the caller skips
    the item and names it, rather than losing the file. Raises ValueError naming the
    file and the line and character where it is not valid JSON, and KeyError when the
    object has no such array.
    """
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        s = _JSONStream(f, chunk)
        if s.peek() == "\ufeff":
            s.pos += 1
        if key is None:
            s.expect("[", "a JSON array (a list of items)")
        else:
            s.expect("{", "a JSON object")
            if s.peek() == "}":
                raise KeyError(f"{path}: no {key!r} array")
            while True:
                if s.peek() != '"':
                    s.expect('"', "a member name")
                name = s.value(decoder)
                s.expect(":", "':'")
                if name == key:
                    s.expect("[", f"the {key!r} array")
                    break
                s.value(decoder)
                if s.expect(",}", "',' or '}'") == "}":
                    raise KeyError(f"{path}: no {key!r} array")
        if s.peek() == "]":
            s.pos += 1
            return
        while True:
            s.peek()
            line = s.line()
            yield line, s.value(decoder)
            if s.expect(",]", "',' or ']'") == "]":
                return


def iter_json_array(path, key: str, chunk: int = 1 << 20) -> Iterator:
    """The items of :func:`iter_json_items`, without their lines."""
    for _, item in iter_json_items(path, key, chunk):
        yield item


def audio_duration(path) -> float | None:
    """Seconds from the header of a file soundfile reads (None if it cannot)."""
    try:
        return audio_info(path).duration
    except RuntimeError:  # soundfile's LibsndfileError included
        return None


def probe_duration(path) -> float | None:
    """Seconds of the first audio stream of a container ffmpeg reads (mp4 ...), from its
    header by ffprobe, without decoding; None when ffprobe finds no audio stream in it."""
    cmd = ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=duration:format=duration", "-of", "json", str(path)]  # fmt: skip
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        info = json.loads(out.stdout or "{}")
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return None
    streams = info.get("streams") or []
    if out.returncode != 0 or not streams:
        return None
    for value in (streams[0].get("duration"), (info.get("format") or {}).get("duration")):
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except ValueError:
            pass
    return None


def probe_durations(paths: Sequence, jobs: int = 8) -> Dict[str, float | None]:
    """{path: :func:`probe_duration`} of many files, ``jobs`` ffprobe processes at a time.
    LayoutError when ffprobe is not installed."""
    if shutil.which("ffprobe") is None:
        raise LayoutError(
            "ffprobe (part of ffmpeg) is not on PATH: install it (tools/install.sh does; "
            "or apt-get install ffmpeg)"
        )
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return dict(zip(map(str, paths), pool.map(probe_duration, paths)))


class DataDir:
    """Collects utterances and writes one validated Kaldi data dir.

    Utterance ids sort as their speakers do (Kaldi's convention; a speaker prefix does
    it); with several tasks on the same audio, :meth:`add` is called once per task with
    distinct ids (:func:`task_copies`).
    """

    def __init__(self, out_dir, corpus: str):
        self.out = Path(out_dir)
        self.corpus = corpus
        self.recordings: Dict[str, str] = {}
        self.utts: Dict[str, dict] = {}
        self.skipped: List[Tuple[str, str]] = []

    def add(
        self,
        utt: str,
        audio: str,
        spk: str,
        *,
        text: str = "",
        task: str = "ASR",
        labels: Mapping[str, str] | None = None,
        ctm: Sequence[Tuple[float, float, str]] | None = None,
        answer: str | None = None,
        question: str | None = None,
        segment: Tuple[str, float, float] | None = None,
        duration: float | None = None,
    ) -> bool:
        """Add one utterance; returns False (and lists it) when it cannot be used."""
        for what, value in (("utterance", utt), ("speaker", spk)):
            if not value or any(c.isspace() for c in value):
                raise ValueError(f"{self.corpus}: {what} id {value!r} is empty or has spaces")
        if utt in self.utts:
            return self.skip(utt, f"repeats an utterance id ({self.utts[utt]['audio']})")
        text = " ".join(text.split())
        labels = {k: " ".join(str(v).split()) for k, v in (labels or {}).items()}
        for k in labels:
            if f"utt2{k}" not in LABEL_FILES:
                raise ValueError(f"{self.corpus}: unknown label field {k!r}")
        reco = utt
        if segment is not None:
            reco, start, end = segment
            if not end > start >= 0:
                return self.skip(utt, f"segment {start}-{end} s of {reco} is empty")
            duration = end - start
        old = self.recordings.get(reco)
        if old is not None and old != audio:
            raise ValueError(f"{self.corpus}: recording {reco} is both {old} and {audio}")
        self.recordings[reco] = audio
        self.utts[utt] = dict(
            audio=audio, spk=spk, text=text, task=task, labels=labels, ctm=ctm,
            answer=answer, question=question, segment=segment, duration=duration,
        )  # fmt: skip
        return True

    def skip(self, what: str, reason: str) -> bool:
        self.skipped.append((what, " ".join(reason.split())))
        return False

    def skip_lines(self, bad: Iterable[BadLine]) -> None:
        """List lines left out by a reader (:func:`decode_lines`), by file and line."""
        for b in bad:
            self.skip(b.where, f"{b.reason}; the line is skipped")

    def write(self) -> dict:
        """Write the dir (LC_ALL=C sorted files) and ``skipped``; returns the summary."""
        self._measure_durations()
        self._clear()
        self._check_speaker_order()
        for name, lines in self._tables().items():
            _write(self.out / name, sorted(lines))
        u = self.utts
        ctm = [f"{k} {s:.3f} {e - s:.3f} {w}" for k in sorted(u) for s, e, w in (u[k]["ctm"] or [])]
        if ctm:
            _write(self.out / "ctm", ctm)
        _write(self.out / "skipped", [f"{w} {r}" for w, r in self.skipped])
        write_text(self.out / "corpus", self.corpus + "\n")
        return self._summary()

    def _measure_durations(self) -> None:
        """Durations from the audio headers (not of pipes); an utterance whose audio header
        does not read is of no use, and skipped. LayoutError, with the reasons, when no
        utterance is left."""
        for k, v in list(self.utts.items()):
            if v["duration"] is None and not v["segment"] and not is_pipe(v["audio"]):
                v["duration"] = audio_duration(v["audio"])
                if v["duration"] is None:
                    self.skip(k, f"cannot read the audio header of {v['audio']}")
                    del self.utts[k]
        if not self.utts:
            reasons = "\n".join(f"  {w}: {r}" for w, r in self.skipped[:10])
            raise LayoutError(
                f"{self.corpus}: no usable utterance for {self.out}"
                + (f"; skipped {len(self.skipped)}, e.g.:\n{reasons}" if reasons else "")
            )

    def _clear(self) -> None:
        """Make the dir; a rerun replaces the data files, and only those."""
        self.out.mkdir(parents=True, exist_ok=True)
        for f in self.out.iterdir():
            if f.is_file() and f.name in WRITTEN_FILES:
                f.unlink()

    def _check_speaker_order(self) -> None:
        order = [self.utts[k]["spk"] for k in sorted(self.utts)]
        for a, b in zip(order, order[1:]):
            if a > b:
                raise ValueError(
                    f"{self.corpus}: utterance ids do not sort as their speakers ({a}, then "
                    f"{b}); prefix them with the speaker id"
                )

    def _tables(self) -> Dict[str, List[str]]:
        """{file name: its lines, unsorted} of every ``<utt> <value>`` file of the dir."""
        u = self.utts
        used = {(v["segment"][0] if v["segment"] else k) for k, v in u.items()}
        files: Dict[str, List[str]] = {
            "wav.scp": [f"{r} {a}" for r, a in self.recordings.items() if r in used],
            "utt2spk": [f"{k} {v['spk']}" for k, v in u.items()],
            "text": [f"{k} {v['text']}".rstrip() for k, v in u.items()],
            "utt2task": [f"{k} {v['task']}" for k, v in u.items()],
        }
        if any(v["segment"] for v in u.values()):
            if not all(v["segment"] for v in u.values()):
                raise ValueError(f"{self.corpus}: mixing segments and whole recordings")
            files["segments"] = [
                f"{k} {s[0]} {s[1]:.3f} {s[2]:.3f}" for k, v in u.items() for s in [v["segment"]]
            ]
        if all(v["duration"] is not None for v in u.values()):
            files["utt2dur"] = [f"{k} {v['duration']:.3f}" for k, v in u.items()]
        for name, field in LABEL_FILES.items():
            rows = [f"{k} {v['labels'][field]}" for k, v in u.items() if field in v["labels"]]
            if rows:
                files[name] = rows
        for name, key in (("utt2answer", "answer"), ("utt2question", "question")):
            rows = [f"{k} {' '.join(v[key].split())}" for k, v in u.items() if v[key]]
            if rows:
                files[name] = rows
        files["spk2utt"] = [f"{s} {' '.join(x)}" for s, x in self._spk2utt().items()]
        return files

    def _spk2utt(self) -> Dict[str, List[str]]:
        spk2utt: Dict[str, List[str]] = {}
        for k in sorted(self.utts):
            spk2utt.setdefault(self.utts[k]["spk"], []).append(k)
        return spk2utt

    def _summary(self) -> dict:
        """The summary of what was written, also said on stderr."""
        u, speakers = self.utts, len(self._spk2utt())
        summary = {
            "dir": str(self.out),
            "utterances": len(u),
            "speakers": speakers,
            "tasks": dict(sorted(Counter(v["task"] for v in u.values()).items())),
            "skipped": len(self.skipped),
        }
        msg = f"{self.corpus}: {self.out}: {len(u)} utterances, {speakers} speakers"
        msg += ", tasks " + " ".join(f"{t}={n}" for t, n in summary["tasks"].items())
        if self.skipped:
            reasons = Counter(_kind(r) for _, r in self.skipped)
            msg += f"; skipped {len(self.skipped)} (listed in {self.out / 'skipped'}): "
            msg += "; ".join(f"{n} x {r}" for r, n in reasons.most_common(5))
        print(msg, file=sys.stderr)
        return summary


# every file write() makes: a rerun replaces these and leaves anything else in the dir
# (a stage's .done marker, a user's notes, a mistyped --out pointing at a recipe's data/)
WRITTEN_FILES = {
    *("wav.scp", "text", "utt2spk", "spk2utt", "segments", "utt2dur", "skipped", "corpus"),
    *TASK_FILES,
    "utt2taskinfo",  # made from them by the stage engine: stale once they change
}


def _kind(reason: str) -> str:
    """A reason without its specifics, for counting (file names, quoted values and
    numbers out)."""
    words = [
        w
        for w in reason.split()
        if not ("/" in w or w.startswith(("'", '"')) or re.fullmatch(_NUMBER, w))
    ]
    return " ".join(words)[:80]


_NUMBER = r"[(\[]?(0x[0-9a-f]+|\d+)[)\],;:]*"  # a byte or a count; times stay


def _write(path: Path, lines: Iterable[str]) -> None:
    """``<line>\\n`` of each line, written atomically (:mod:`osum.files`)."""
    write_text(path, "".join(x + "\n" for x in lines))
