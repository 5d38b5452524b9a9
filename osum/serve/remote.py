"""Audio URLs of chat messages fetched, where the server allows it (``--allow_remote_urls``),
from the public internet only.

A request must not turn the server into a client of what only the server can reach: its
own port, a metadata service (169.254.169.254), a private network. So every host a fetch
goes to, the URL's own and each redirect's (followed here, at most ``MAX_REDIRECTS``), is
resolved first and refused unless every address is public (``is_global``, and so is any
IPv4 address it embeds); the connection then goes to the address that was checked, so a
second resolution cannot point elsewhere. ``Settings.allowed_url_networks`` lets more in
(an internal store's network). The whole fetch, redirects and all, takes at most
``remote_timeout`` s (a watchdog shuts the socket at the deadline: a server sending a byte
now and then cannot hold a request), and at most ``max_body_bytes`` are read.

Failures are :class:`~osum.serve.errors.APIError`: 400 ``url_not_allowed`` for a refused
host, 400 ``fetch_failed`` (``could not fetch <url>: <reason>``, the reason short: no
socket error's detail) otherwise, 413 for a file over the limit.
"""

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Sequence
from urllib.parse import urljoin, urlsplit

from starlette.concurrency import run_in_threadpool

from osum.serve.errors import APIError
from osum.serve.settings import Settings

MAX_REDIRECTS = 5
REDIRECTS = (301, 302, 303, 307, 308)
READ_BYTES = 1 << 16  # read at a time
URL_CHARS = 200  # of a URL repeated in an error message
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # IPv4 addresses embedded in IPv6 (RFC 6052)
# name lookups, each waited for only until the fetch's deadline
_resolver = ThreadPoolExecutor(4, thread_name_prefix="osum-resolve")


class Refused(Exception):
    """A host that is not on the public internet (nor in the allowed networks)."""


class Failed(Exception):
    """A fetch that did not succeed: its short reason."""


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``ip`` is on the public internet: ``is_global`` and not multicast, and so is
    any IPv4 address it embeds (``::ffff:127.0.0.1``, 6to4, NAT64)."""
    if not ip.is_global or ip.is_multicast:
        return False
    if ip.version == 6:
        embedded = [ip.ipv4_mapped, ip.sixtofour]
        if ip in NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return all(is_public(e) for e in embedded if e is not None)
    return True


def allowed(address: str, networks: Sequence[str] = ()) -> bool:
    """Whether a fetch may connect to ``address`` (an IP address): a public one, or one in
    ``networks`` (CIDR: ``10.1.0.0/16``)."""
    ip = ipaddress.ip_address(address.split("%")[0])  # fe80::1%eth0: the scope aside
    if any(ip in ipaddress.ip_network(n) for n in networks):
        return True
    return is_public(ip)


class Deadline:
    """The time a fetch has left."""

    def __init__(self, seconds: float):
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left; :class:`Failed` once none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise Failed("timed out")
        return left

    def passed(self) -> bool:
        return time.monotonic() >= self.end


def resolve(host: str, port: int, deadline: Deadline, networks: Sequence[str]) -> str:
    """The address to connect to for ``host``; :class:`Refused` unless every address it
    resolves to is :func:`allowed`."""
    lookup = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=deadline.left())
    except FutureTimeout:
        raise Failed("timed out") from None
    except (socket.gaierror, UnicodeError):
        raise Failed(f"the host {host} does not resolve") from None
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(allowed(a, networks) for a in addresses):
        raise Refused(host)
    return addresses[0]


def get(url: str, limit: int, deadline: Deadline, networks: Sequence[str]) -> bytes:
    """The body of ``url``, its redirects followed (each host checked); at most ``limit`` + 1
    bytes are read."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Failed("not an http(s) URL with a host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise Failed("not a valid port") from None
        address = resolve(parts.hostname, port, deadline, networks)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        status, location, body = request(parts, port, address, path, limit, deadline)
        if status not in REDIRECTS:
            if status != 200:
                raise Failed(f"HTTP {status}")
            return body
        if not location:
            raise Failed(f"HTTP {status} without a Location")
        url = urljoin(url, location)
    raise Failed(f"more than {MAX_REDIRECTS} redirects")


def request(parts, port: int, address: str, path: str, limit: int, deadline: Deadline) -> tuple:
    """(status, Location, body or b"") of one GET to ``address`` (the host's, checked)."""
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname, port, timeout=deadline.left(), context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname, port, timeout=deadline.left())
    sockets = []  # the connection's: what the watchdog shuts

    def pinned(addr, timeout, source_address=None):  # the checked address, not a new lookup
        sock = socket.create_connection((address, addr[1]), timeout, source_address)
        sockets.append(sock)
        return sock

    conn._create_connection = pinned
    watchdog = threading.Timer(deadline.left(), shut, (sockets,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.connect()
        sock = conn.sock  # https: the TLS socket (the response may take it from conn)
        sockets.append(sock)
        conn.request(
            "GET", path, headers={"User-Agent": "osum-serve", "Accept-Encoding": "identity"}
        )
        response = conn.getresponse()
        if response.status != 200:
            return response.status, response.getheader("Location"), b""
        declared = response.getheader("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            return 200, None, b"\0" * (limit + 1)  # over the limit: not read
        chunks, size = [], 0
        while size <= limit:
            sock.settimeout(deadline.left())
            chunk = response.read1(READ_BYTES)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if deadline.passed():  # the watchdog may have cut the body short
            raise Failed("timed out")
        return 200, None, b"".join(chunks)
    except (OSError, http.client.HTTPException) as e:
        if deadline.passed() or isinstance(e, TimeoutError):
            raise Failed("timed out") from None
        if isinstance(e, ssl.SSLError):
            raise Failed("the TLS connection failed") from None
        if isinstance(e, http.client.HTTPException):
            raise Failed("the answer is not valid HTTP") from None
        raise Failed("the connection failed") from None
    finally:
        watchdog.cancel()
        conn.close()


def shut(sockets: list) -> None:
    """End the blocked reads of a connection whose deadline passed."""
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # closed, or handed to TLS
            pass


def short(url: str) -> str:
    return url if len(url) <= URL_CHARS else url[:URL_CHARS] + "..."


def fetch(url: str, settings: Settings) -> bytes:
    """The bytes of an http(s) URL, at most ``max_body_bytes``, within ``remote_timeout``,
    from public hosts (or ``allowed_url_networks``) only; refused unless the server allows
    remote URLs."""
    if not settings.allow_remote_urls:
        raise APIError(
            400,
            "audio_url: this server does not fetch remote URLs (started without "
            "--allow_remote_urls); send the audio as base64",
            "messages",
            "remote_urls_disabled",
        )
    limit = settings.max_body_bytes
    networks = settings.allowed_url_networks
    try:
        data = get(url, limit, Deadline(settings.remote_timeout), networks)
    except Refused as e:
        raise APIError(
            400,
            f"will not fetch {short(url)}: the host {e} is not on the public internet",
            "messages",
            "url_not_allowed",
        ) from None
    except Failed as e:
        raise APIError(
            400, f"could not fetch {short(url)}: {e}", "messages", "fetch_failed"
        ) from None
    if len(data) > limit:
        raise APIError(
            413, f"{short(url)}: over the limit of {limit} bytes", "messages", "too_large"
        )
    return data


async def fetch_async(url: str, settings: Settings) -> bytes:
    return await run_in_threadpool(fetch, url, settings)
