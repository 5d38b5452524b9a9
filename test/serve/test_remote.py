"""Fetching audio URLs (osum.serve.remote): public hosts only, every redirect's host
checked, one deadline for the whole fetch, a byte limit, short error messages."""

import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from osum.serve.errors import APIError
from osum.serve.remote import allowed, fetch
from osum.serve.settings import Settings

LOOPBACK = ("127.0.0.1/32",)  # the test servers' network, let in where a test needs it


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "0.0.0.0",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "224.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fe80::1%eth0",
        "fd00::1",
        "::ffff:127.0.0.1",  # IPv4 loopback, mapped
        "64:ff9b::a9fe:a9fe",  # 169.254.169.254 through NAT64
        "2002:7f00:1::",  # 127.0.0.1 in 6to4
    ],
)
def test_what_is_not_on_the_public_internet_is_refused(address):
    assert not allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert allowed(address)


def test_allowed_networks_let_more_in():
    assert allowed("127.0.0.1", LOOPBACK) and allowed("10.1.9.9", ["10.1.0.0/16"])
    assert not allowed("127.0.0.2", LOOPBACK) and not allowed("10.2.0.1", ["10.1.0.0/16"])


class Handler(BaseHTTPRequestHandler):
    """``/audio``: 4 bytes; ``/to?<url>``: a redirect there; ``/big``: more than announced
    limits; ``/drip``: a byte every 0.2 s for 10 s; ``/chunked``: 64 KB chunks, 2 MB."""

    hits: list = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.hits.append(self.path)
        if self.path == "/audio":
            self.answer(200, b"RIFF", {"Content-Length": "4"})
        elif self.path.startswith("/to?"):
            self.answer(302, b"", {"Location": self.path[4:], "Content-Length": "0"})
        elif self.path == "/big":
            self.answer(200, b"", {"Content-Length": str(10 << 20)})
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "50")
            self.end_headers()
            try:
                for _ in range(50):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:  # the fetch gave up
                pass
        elif self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(32):
                self.wfile.write(b"10000\r\n" + b"\0" * 65536 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.answer(404, b"no", {"Content-Length": "2"})

    def answer(self, status: int, body: bytes, headers: dict) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def web(host: str = "127.0.0.1"):
    """An http server on ``host`` in a thread; yields its base URL."""
    Handler.hits = []
    httpd = ThreadingHTTPServer((host, 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def refusal(url: str, settings: Settings, status: int = 400) -> APIError:
    with pytest.raises(APIError) as e:
        fetch(url, settings)
    assert e.value.status == status, e.value.message
    return e.value


def test_a_loopback_url_is_refused_even_where_remote_urls_are_allowed():
    settings = Settings(allow_remote_urls=True)
    with web() as url:
        port = url.rsplit(":", 1)[1]
        for target in (url, f"http://localhost:{port}", f"http://2130706433:{port}"):
            e = refusal(target + "/audio", settings)
            assert e.code == "url_not_allowed" and "not on the public internet" in e.message
        assert Handler.hits == []  # nothing was asked of it
        assert fetch(
            url + "/audio", Settings(allow_remote_urls=True, allowed_url_networks=LOOPBACK)
        )
    assert refusal("http://169.254.169.254/latest/meta-data/", settings).code == "url_not_allowed"


def test_every_redirect_is_checked():
    settings = Settings(allow_remote_urls=True, allowed_url_networks=LOOPBACK)
    with web() as url:
        assert fetch(f"{url}/to?/audio", settings) == b"RIFF"  # followed, relative too
        assert fetch(f"{url}/to?{url}/to?{url}/audio", settings) == b"RIFF"
        for target in (url.replace("127.0.0.1", "127.0.0.2"), "http://169.254.169.254"):
            Handler.hits = []
            e = refusal(f"{url}/to?{target}/audio", settings)
            assert e.code == "url_not_allowed", e.message
            assert Handler.hits == [f"/to?{target}/audio"]  # the redirect, not its target
        e = refusal(f"{url}/to?file:///etc/passwd", settings)
        assert e.code == "fetch_failed" and "not an http(s) URL" in e.message
        loop = f"{url}/to?" * 7 + "/audio"
        assert "more than 5 redirects" in refusal(loop, settings).message


def test_a_fetch_has_one_deadline():
    """A server sending a byte every 0.2 s never lets a socket time out; the fetch ends."""
    settings = Settings(allow_remote_urls=True, allowed_url_networks=LOOPBACK, remote_timeout=1)
    with web() as url:
        start = time.monotonic()
        e = refusal(url + "/drip", settings)
        assert time.monotonic() - start < 2.5
        assert e.message == f"could not fetch {url}/drip: timed out"


def test_a_fetch_reads_at_most_the_limit():
    settings = Settings(allow_remote_urls=True, allowed_url_networks=LOOPBACK, max_body_bytes=1000)
    with web() as url:
        assert refusal(url + "/big", settings, 413).code == "too_large"  # announced
        assert refusal(url + "/chunked", settings, 413).code == "too_large"  # not announced


def test_failures_are_named_briefly():
    settings = Settings(allow_remote_urls=True, allowed_url_networks=LOOPBACK)
    with web() as url:
        e = refusal(url + "/missing", settings)
        assert (e.code, e.message) == ("fetch_failed", f"could not fetch {url}/missing: HTTP 404")
    e = refusal(url + "/audio", settings)  # the server is gone
    assert e.message == f"could not fetch {url}/audio: the connection failed"
    e = refusal("http://no-such-host.invalid/a.wav", Settings(allow_remote_urls=True))
    assert e.message.endswith("the host no-such-host.invalid does not resolve")
    e = refusal("http://x.com/" + "a" * 5000, Settings(allow_remote_urls=False))
    assert e.code == "remote_urls_disabled"
