"""How a command fails on a user's mistake: one line, not a traceback.

Every ``python -m osum.bin.<command>`` ends with::

    if __name__ == "__main__":
        run(main)

:func:`run` turns the errors a user's input or machine causes into ``<command>: <what is
wrong>`` on stderr and exit status 1:

* a missing, unreadable or wrong kind of file or dir (``OSError`` and its kinds:
  ``FileNotFoundError``, ``PermissionError``, ``IsADirectoryError`` ...), named by its path;
* a full disk or quota (``ENOSPC``, ``EDQUOT``): ``<path>: no space left on device (disk
  full)``; where the error names no file, the file open for writing where it was raised,
  else the command's output dir (``--output_dir``, ``--out`` ...);
* text that is not UTF-8 (``UnicodeDecodeError``) or not JSON, named by the file being read;
* a bad value (``ValueError``, which the project's ``DataError`` and ``CheckpointMismatch``
  are), and the other classes of :data:`USER_ERRORS` (``LayoutError``, a YAML file that
  does not parse, audio soundfile cannot read).

A bad option (argparse's error) is one line too, without the usage block, exit status 2.
Anything else is a bug and keeps its traceback. ``OSUM_DEBUG=1`` shows the traceback of
every error. The ``type=`` helpers below (:func:`positive_int` ...) reject option values
that cannot work while the options are parsed, with argparse's own message.

This module sits below every layer: it imports no osum module (the project's error
classes are named in :data:`USER_ERRORS`, not imported) and no torch.
"""

import argparse
import errno
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Callable, Iterator, List

# user-facing error classes besides OSError and ValueError, by module and name (any class
# in an exception's MRO), so that this module imports none of them
USER_ERRORS = {
    "osum.data.kaldi.DataError",
    "osum.corpora.common.LayoutError",
    "osum.convert.import_osum.CheckpointMismatch",
    "yaml.error.YAMLError",  # a config that does not parse (names its file and line)
    "soundfile.LibsndfileError",  # audio soundfile cannot read
    "safetensors._safetensors_rust.SafetensorError",  # a weights file cut short
}
# options naming what a command writes, for a full disk the error does not place
OUTPUT_OPTIONS = ("--output_dir", "--out_dir", "--out", "--exp_dir", "--models", "--data")
MAX_LINES = 20  # of a long message (a state dict's missing keys)
_TMP = re.compile(r"^\.(?P<name>.+)\.\d+\.tmp$")  # osum.files.atomic_path's temporary name


def run(main: Callable, output: int | None = None) -> None:
    """Call ``main()``; a user's mistake exits 1 with one line on stderr, not a traceback.

    ``output``: where the output dir of a command whose output is a positional argument
    is in ``sys.argv`` (``-1``: the last), named when the disk fills and the error does
    not say where."""
    name = command_name(sys._getframe(1).f_globals)
    parser_error = argparse.ArgumentParser.error

    def one_line(parser, message):  # argparse's error, without the usage block
        parser.exit(2, f"{name}: {message} (--help: the options)\n")

    argparse.ArgumentParser.error = one_line
    try:
        main()
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # stdout closed early (| head): nothing more to say
        sys.stdout = open(os.devnull, "w")  # not atomic: /dev/null
        sys.exit(141)
    except Exception as e:
        if os.environ.get("OSUM_DEBUG", "") not in ("", "0") or not is_user_error(e):
            raise
        argv = sys.argv[1:]
        outputs = [argv[output]] if output is not None and argv else []
        for line in describe(e, argv, outputs).splitlines()[:MAX_LINES]:
            print(f"{name}: {line}", file=sys.stderr)
        sys.exit(1)
    finally:
        argparse.ArgumentParser.error = parser_error


def command_name(caller: dict) -> str:
    """``import_osum`` for ``python -m osum.bin.import_osum`` (``caller``: the globals of
    the module that calls :func:`run`, the command's own even where its ``main`` is
    another module's)."""
    spec = caller.get("__spec__")
    if spec is not None and spec.name:
        return spec.name.rsplit(".", 1)[-1]
    return Path(caller.get("__file__") or sys.argv[0]).stem or "osum"


def is_user_error(e: BaseException) -> bool:
    """An error of the user's input or machine (see the module doc), not a bug."""
    if isinstance(e, (OSError, ValueError)):
        return True
    return any(f"{c.__module__}.{c.__qualname__}" in USER_ERRORS for c in type(e).__mro__)


def describe(e: BaseException, argv: List[str] = (), outputs: List[str] = ()) -> str:
    """The message of a user's error: what is wrong, naming the file where it can."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        what = "no space left on device (disk full)"
        if e.errno == errno.EDQUOT:
            what = "disk quota exceeded"
        where = e.filename or _open_file(e, writing=True)
        if where is None:
            dirs = list(outputs) + _output_options(argv)
            where = f"writing {dirs[0]}" if dirs else "writing the output"
        return f"{_real_name(where)}: {what}"
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        names = _real_name(e.filename)
        if e.filename2 is not None:
            names += f" -> {_real_name(e.filename2)}"
        return f"{names}: {e.strerror}"
    if isinstance(e, UnicodeDecodeError):
        where = _open_file(e, writing=False) or _path_read(e) or "input"
        bad = e.object[e.start : e.start + 1].hex()
        return f"{where}: not UTF-8 text (byte 0x{bad} at offset {e.start})"
    if isinstance(e, json.JSONDecodeError):
        where = _open_file(e, writing=False) or _path_read(e) or "input"
        return f"{where}: not valid JSON ({e})"
    text = str(e).strip() or type(e).__name__
    if type(e) in (ValueError, RuntimeError) and not _raised_in_osum(e):
        # a library's own words, perhaps a bug rather than a mistake: say where to look
        text += " (raised outside osum; OSUM_DEBUG=1 shows where)"
    return text


def _raised_in_osum(e: BaseException) -> bool:
    """Was ``e`` raised by osum's own code (its innermost frame in the osum package)?"""
    tb = e.__traceback__
    if tb is None:
        return True
    while tb.tb_next is not None:
        tb = tb.tb_next
    return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(Path(__file__).parent)


def _real_name(path) -> str:
    """The file a temporary name of osum.files stands for."""
    p = Path(os.fsdecode(path))
    m = _TMP.match(p.name)
    return str(p.with_name(m["name"]) if m else p)


def _open_file(e: BaseException, writing: bool) -> str | None:
    """The name of the file open (for writing, or for reading) in the frames where ``e``
    was raised, innermost first: the file a bare ENOSPC or decode error is about."""
    for frame in reversed(list(_frames(e))):
        for value in list(frame.f_locals.values()):
            name = getattr(value, "name", None)
            if not isinstance(value, io.IOBase) or not isinstance(name, (str, bytes)):
                continue
            mode = getattr(value, "mode", "")
            if not isinstance(mode, str):
                continue
            if writing == any(c in mode for c in "wax+"):
                return os.fsdecode(name)
    return None


def _path_read(e: BaseException) -> str | None:
    """The file a ``path`` local names in the frames where ``e`` was raised, innermost
    first (``json.loads(path.read_text())``: the file is closed by then)."""
    for frame in reversed(list(_frames(e))):
        for name in ("path", "filename", "file", "src"):
            value = frame.f_locals.get(name)
            if isinstance(value, (str, os.PathLike)) and os.path.isfile(value):
                return os.fsdecode(value)
    return None


def _frames(e: BaseException) -> Iterator:
    """The frames of ``e``'s traceback and of the errors it was raised from, outermost
    first within each."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        tb = e.__traceback__
        while tb is not None:
            yield tb.tb_frame
            tb = tb.tb_next
        e = e.__cause__ or e.__context__


def _output_options(argv: List[str]) -> List[str]:
    found = []
    for i, arg in enumerate(argv):
        opt, eq, value = arg.partition("=")
        if opt in OUTPUT_OPTIONS:
            if eq:
                found.append(value)
            elif i + 1 < len(argv):
                found.append(argv[i + 1])
    return found


# argparse ``type=`` helpers: a value that cannot work is refused while parsing


def _number(kind, test, what):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not test(value):
            raise argparse.ArgumentTypeError(f"must be {what}, not {text}")
        return value

    parse.__name__ = f"{kind.__name__} {what}"
    return parse


positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
non_negative_int = _number(int, lambda v: v >= 0, "a whole number >= 0")
positive_float = _number(float, lambda v: v > 0 and v != float("inf"), "> 0")
non_negative_float = _number(float, lambda v: 0 <= v < float("inf"), ">= 0")


def float_in(low: float, high: float, low_open: bool = False, high_open: bool = False):
    """A float between ``low`` and ``high`` (``*_open``: that end excluded)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"
    return _number(
        float,
        lambda v: (low < v if low_open else low <= v) and (v < high if high_open else v <= high),
        f"in {left}{low}, {high}{right}",
    )


def boolean(text) -> bool:
    """true/false, yes/no, 1/0 (ESPnet's str2bool, without importing ESPnet)."""
    value = str(text).strip().lower()
    if value in ("true", "yes", "y", "1"):
        return True
    if value in ("false", "no", "n", "0", "none"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not true or false")


# the options of osum.decode.search.DecodeOptions, as every decoding command takes them
SEARCH_OPTIONS = (
    "beam_size", "max_new_tokens", "length_penalty", "repetition_penalty", "do_sample",
    "temperature", "top_k", "top_p", "seed", "ctc_weight", "ctc_candidates", "monotonic_times",
)  # fmt: skip


def add_search_options(parser: argparse.ArgumentParser) -> None:
    """The prompts' language, the chunk length and the search options
    (:data:`SEARCH_OPTIONS`, in a group of their own): what every decoding command passes
    to ``Speech2Text``."""
    parser.add_argument("--prompt_language", default=None, choices=["en", "zh"])
    parser.add_argument(
        "--chunk_seconds",
        type=positive_float,
        default=30.0,
        help="longest audio given to the encoder at once (at most its window, 30 s)",
    )
    g = parser.add_argument_group("search")
    g.add_argument("--beam_size", type=positive_int, default=1)
    g.add_argument("--max_new_tokens", type=positive_int, default=200)
    g.add_argument("--length_penalty", type=float, default=1.0)
    g.add_argument("--repetition_penalty", type=positive_float, default=1.0)
    g.add_argument(
        "--do_sample",
        type=boolean,
        nargs="?",
        const=True,
        default=False,
        help="sample (with --beam_size over 1: beam search with sampling); --do_sample false "
        "turns off an inference config's",
    )
    g.add_argument("--temperature", type=positive_float, default=1.0)
    g.add_argument("--top_k", type=non_negative_int, default=0, help="0: no top-k")
    g.add_argument("--top_p", type=float_in(0, 1, low_open=True), default=1.0)
    g.add_argument("--seed", type=int, default=None)
    g.add_argument(
        "--ctc_weight",
        type=float_in(0, 1, high_open=True),
        default=0.0,
        help="joint CTC/attention decoding: weight of the CTC prefix score of the "
        "transcript (models trained with model_conf.ctc_weight > 0)",
    )
    g.add_argument(
        "--ctc_candidates",
        type=positive_int,
        default=10,
        help="LLM tokens rescored by CTC per step",
    )
    g.add_argument(
        "--monotonic_times",
        type=boolean,
        default=True,
        help="timestamp tasks (SRWT): no time earlier than the one before it or later "
        "than the audio",
    )


def search_options(args: argparse.Namespace) -> dict:
    """The parsed options of :func:`add_search_options`, as ``Speech2Text``'s keyword
    arguments."""
    names = ("prompt_language", "chunk_seconds") + SEARCH_OPTIONS
    return {name: getattr(args, name) for name in names}
