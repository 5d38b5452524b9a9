"""What a server allows and how it names itself: the limits and options of one app."""

import ipaddress
import time
from dataclasses import dataclass, field
from typing import Tuple

MB = 1 << 20


@dataclass
class Settings:
    """The options of :func:`osum.serve.app.create_app` (``osum.bin.serve`` fills them).

    Args:
        served_model_name: the model id the API lists and requests must name.
        api_key: None: open; else every ``/v1`` request needs ``Authorization: Bearer``
            this key (``/health``, ``/metrics`` and the demo page stay open).
        max_body_bytes: largest request body (an upload, a JSON body with base64 audio).
        max_audio_seconds: longest audio decoded; longer is refused (413), known from the
            header before decoding where it can be.
        max_question_chars: longest text of a chat message (the question); longer is
            refused (400): every row of the running batch is padded to the longest prompt.
        allow_remote_urls: fetch ``http(s)`` audio URLs of chat messages (off: refused), from
            public addresses only (:mod:`osum.serve.remote`).
        allowed_url_networks: networks (CIDR) remote URLs may be fetched from besides the
            public internet, e.g. ``("10.1.0.0/16",)`` for an internal store.
        remote_timeout: seconds a remote fetch may take, redirects and all.
        retry_after: seconds a client is told to wait when the queue is full (429).
    """

    served_model_name: str = "osum"
    api_key: str | None = None
    max_body_bytes: int = 25 * MB
    max_audio_seconds: float = 600.0
    max_question_chars: int = 2000
    allow_remote_urls: bool = False
    allowed_url_networks: Tuple[str, ...] = ()
    remote_timeout: float = 10.0
    retry_after: int = 1
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self):
        if self.max_body_bytes < 1 or not self.max_audio_seconds > 0:
            raise ValueError(
                f"max_body_bytes and max_audio_seconds must be > 0, got "
                f"{self.max_body_bytes}, {self.max_audio_seconds}"
            )
        if self.max_question_chars < 1:
            raise ValueError(f"max_question_chars must be > 0, got {self.max_question_chars}")
        self.allowed_url_networks = tuple(self.allowed_url_networks)
        for network in self.allowed_url_networks:
            ipaddress.ip_network(network)  # ValueError naming it
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key: an empty key would let anyone in; give None for none")
