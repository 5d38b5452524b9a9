"""What every request passes before a route reads it: the API key and the body limit.

The key (``Authorization: Bearer <key>``) is asked of ``/v1`` paths only: ``/health``,
``/metrics`` and the demo page stay open. The path is the app's own, below any prefix
(``root_path``: the app mounted under ``/osum``, or ``uvicorn --root-path``), as the
routes match it: ``/osum/v1/models`` is a ``/v1`` path there. A body is refused (413)
when its ``Content-Length`` is over the limit, before any of it is read, and when more
than the limit arrives without one (chunked): the route reading it gets an
:class:`~osum.serve.errors.APIError` then.
"""

import hmac

from starlette.routing import get_route_path

from osum.serve.errors import APIError
from osum.serve.settings import Settings

PROTECTED = "/v1/"


class Gate:
    """ASGI middleware: the key and the body limit of :class:`Settings`."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        try:
            self.check(scope)
        except APIError as e:
            return await e.response()(scope, receive, send)
        limit, received = self.settings.max_body_bytes, 0

        async def capped():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise too_large(limit)
            return message

        await self.app(scope, capped, send)

    def check(self, scope) -> None:
        """The key of a /v1 request, and the body's declared length."""
        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        key = self.settings.api_key
        if key is not None and (get_route_path(scope) + "/").startswith(PROTECTED):
            given = headers.get("authorization", b"").decode("latin-1")
            scheme, _, token = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                token.strip().encode(), key.encode()
            ):
                raise APIError(
                    401,
                    "a valid API key is required: Authorization: Bearer <key>"
                    if not given
                    else "incorrect API key",
                    code="invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        length = headers.get("content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                raise APIError(
                    400, "Content-Length is not a number", code="invalid_header"
                ) from None
            if n > self.settings.max_body_bytes:
                raise too_large(self.settings.max_body_bytes)


def too_large(limit: int) -> APIError:
    return APIError(
        413,
        f"the request body is over this server's limit of {limit} bytes ({limit / (1 << 20):.3g} MB)",
        code="request_too_large",
    )
