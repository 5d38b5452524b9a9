#!/usr/bin/env python3
"""Serve a model over an OpenAI-compatible HTTP API (transcriptions, chat completions with
audio), with a demo page and Prometheus metrics.

    python -m osum.bin.serve --model exported/osum [--port 8000] [--device cuda] \\
        [--api_key_env OSUM_API_KEY] [--beam_size 4 --max_new_tokens 200] [--config decode.yaml]

``--model``: a dir written by ``osum.bin.export_model``, or a training config.yaml (with
``--model_file``). Binds 127.0.0.1 unless ``--host`` says otherwise; with
``--api_key_env NAME`` every /v1 request needs ``Authorization: Bearer $NAME``. With
``--allow_remote_urls`` audio URLs are fetched from public addresses only (and
``--allowed_url_networks``), never the server's own host or network. Decoding
options as ``osum_inference``'s (``--config`` reads them from a YAML file, the command
line wins). See :mod:`osum.serve.app`.
"""

import argparse
import ipaddress
import logging
import os
from pathlib import Path

from espnet2.utils.config_argparse import ArgumentParser
from espnet2.utils.types import str2bool

from osum.cli import (
    add_search_options,
    non_negative_int,
    positive_float,
    positive_int,
    run,
    search_options,
)

MB = 1 << 20


def port(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    value = non_negative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port (0 to 65535), not {text}")
    return value


def network(text: str) -> str:
    """An IP network in CIDR notation (``10.1.0.0/16``, ``fd00::/8``, one address)."""
    try:
        ipaddress.ip_network(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def get_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True, help="export dir, or a training config.yaml")
    parser.add_argument("--model_file", default=None, help="checkpoint of a training config")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=port, default=8000)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--served_model_name", default="osum")
    parser.add_argument(
        "--api_key_env", default=None, help="environment variable holding the API key"
    )
    g = parser.add_argument_group("limits")
    g.add_argument(
        "--max_rows", type=positive_int, default=32, help="rows (chunks x beams) decoded together"
    )
    g.add_argument("--max_queue", type=positive_int, default=256, help="requests waiting")
    g.add_argument("--batching", type=str2bool, default=True)
    g.add_argument("--max_body_mb", type=positive_float, default=25.0)
    g.add_argument("--max_audio_seconds", type=positive_float, default=600.0)
    g.add_argument(
        "--max_question_chars",
        type=positive_int,
        default=2000,
        help="longest text of a chat message (the question)",
    )
    g.add_argument(
        "--allow_remote_urls",
        type=str2bool,
        nargs="?",
        const=True,
        default=False,
        help="fetch http(s) audio URLs of chat messages, from public addresses only (off: "
        "base64 and data: URLs only)",
    )
    g.add_argument(
        "--allowed_url_networks",
        type=network,
        nargs="+",
        default=[],
        help="networks (CIDR, e.g. 10.1.0.0/16) remote URLs may also be fetched from",
    )
    add_search_options(parser)
    parser.add_argument("--log_level", default="INFO")
    return parser


def api_key(name: str | None) -> str | None:
    """The key in environment variable ``name``; a named variable unset or empty is an error."""
    if name is None:
        return None
    key = os.environ.get(name, "").strip()
    if not key:
        raise ValueError(f"--api_key_env {name}: the environment variable {name} is unset or empty")
    return key


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )
    key = api_key(args.api_key_env)
    for path in (args.model, args.model_file):
        if path is not None and not Path(path).exists():
            raise FileNotFoundError(2, "No such file or directory", path)
    from osum.decode.engine import Engine
    from osum.decode.speech2text import Speech2Text
    from osum.model.checkpoint import is_export
    from osum.serve.app import create_app
    from osum.serve.runner import serve
    from osum.serve.settings import Settings

    if Path(args.model).is_dir() and not is_export(args.model):
        raise ValueError(
            f"{args.model}: not a dir written by osum.bin.export_model (config.yaml and "
            "model.safetensors); give an export dir or a training config.yaml"
        )

    settings = Settings(
        served_model_name=args.served_model_name,
        api_key=key,
        max_body_bytes=int(args.max_body_mb * MB),
        max_audio_seconds=args.max_audio_seconds,
        max_question_chars=args.max_question_chars,
        allow_remote_urls=args.allow_remote_urls,
        allowed_url_networks=tuple(args.allowed_url_networks),
    )
    s2t = Speech2Text(
        args.model,
        args.model_file,
        device=args.device,
        batch_size=args.max_rows,
        **search_options(args),
    )
    engine = Engine(s2t, args.max_rows, args.max_queue, args.batching)
    app = create_app(engine, settings)
    logging.info(f"serving {args.model} as {args.served_model_name!r} on {args.host}:{args.port}")
    serve(app, engine, args.host, args.port, args.log_level.lower())


if __name__ == "__main__":
    run(main)
