"""What a server allows and how it names itself: the limits and options of one app."""

import time
from dataclasses import dataclass, field

MB = 1 << 20


@dataclass
class Settings:
    """The options of :func:`osum.serve.app.create_app` (``osum.bin.serve`` fills them).

    Args:
        served_model_name: the model id the API lists and requests must name.
        api_key: None: open; else every ``/v1`` request needs ``Authorization: Bearer``
            this key (``/health``, ``/metrics`` and the demo page stay open).
        max_body_bytes: largest request body (an upload, a JSON body with base64 audio).
        max_audio_seconds: longest audio decoded; longer is refused (413).
        allow_remote_urls: fetch ``http(s)`` audio URLs of chat messages (off: refused).
        remote_timeout: seconds a remote fetch may take.
        retry_after: seconds a client is told to wait when the queue is full (429).
    """

    served_model_name: str = "osum"
    api_key: str | None = None
    max_body_bytes: int = 25 * MB
    max_audio_seconds: float = 600.0
    allow_remote_urls: bool = False
    remote_timeout: float = 10.0
    retry_after: int = 1
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self):
        if self.max_body_bytes < 1 or not self.max_audio_seconds > 0:
            raise ValueError(
                f"max_body_bytes and max_audio_seconds must be > 0, got "
                f"{self.max_body_bytes}, {self.max_audio_seconds}"
            )
        if self.api_key is not None and not self.api_key:
            raise ValueError("api_key: an empty key would let anyone in; give None for none")
