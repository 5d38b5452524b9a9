"""Prometheus metrics of one app, on a registry of its own (two apps in one process, as in
the tests, count apart).

    osum_requests_total{endpoint,status}   HTTP requests answered
    osum_request_seconds{endpoint}         time to answer (a stream: to its end)
    osum_batch_rows                        rows decoded together, per decoding step
    osum_queue_length, osum_running_requests   the engine's, read at scrape time
    osum_audio_seconds_total               seconds of audio decoded
"""

import time
from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class Metrics:
    """The server's counters; ``engine``: what the gauges read (``queued``, ``running``)."""

    def __init__(self, engine):
        self.engine = engine
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "osum_requests", "HTTP requests by endpoint and status code",
            ["endpoint", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "osum_request_seconds", "Time to answer a request (s)", ["endpoint"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_rows = Histogram(
            "osum_batch_rows", "Rows decoded together per decoding step",
            buckets=ROW_BUCKETS, registry=r,
        )  # fmt: skip
        self.queued = Gauge("osum_queue_length", "Requests waiting to be decoded", registry=r)
        self.running = Gauge("osum_running_requests", "Requests being decoded", registry=r)
        self.audio_seconds = Counter("osum_audio_seconds", "Seconds of audio decoded", registry=r)

    def scrape(self) -> bytes:
        """The exposition text, the engine's gauges read now."""
        self.queued.set(self.engine.queued)
        self.running.set(self.engine.running)
        return generate_latest(self.registry)


class Measure:
    """ASGI middleware counting each HTTP request and timing it by endpoint: the route's
    path template (``label(scope)``), so unknown paths do not grow the label set."""

    def __init__(self, app, metrics: Metrics, label: Callable[[dict], str]):
        self.app, self.metrics, self.label = app, metrics, label

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.monotonic(), 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            endpoint = self.label(scope)
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.monotonic() - start)
