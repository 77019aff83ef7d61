"""A small application instrumented with the official prometheus_client, scraped by both
pharos and Prometheus in the interop test.

It serves every client metric type (counter, gauge, histogram, summary, info, enum) with
labels, a counter incremented steadily by a background thread, and `app_ticks_total`: a
counter exposed with explicit timestamps on a whole-second grid whose value is a function of
its timestamp, so two scrapers that honour timestamps store bit-identical samples.

    python promclient_app.py PORT
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

from prometheus_client import (
    REGISTRY,
    Counter,
    Enum,
    Gauge,
    Histogram,
    Info,
    Summary,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

TICK_EPOCH = 1_700_000_000  # seconds; app_ticks_total = (t - TICK_EPOCH) * 0.25 at second t


class TicksCollector(Collector):
    """`app_ticks_total`, timestamped at the current whole second."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        second = int(time.time())
        family = CounterMetricFamily("app_ticks", "Ticks on a whole-second grid.", labels=["unit"])
        family.add_metric(["quarter"], (second - TICK_EPOCH) * 0.25, timestamp=float(second))
        yield family


REQUESTS = Counter("app_requests", "Requests handled.", ["method", "code"])
ERRORS = Counter("app_errors", "Errors seen.")
TEMPERATURE = Gauge("app_temperature_celsius", "Room temperature.", ["room"])
IN_FLIGHT = Gauge("app_in_flight_requests", "Requests in flight.")
LATENCY = Histogram("app_request_duration_seconds", "Request latency.", ["handler"])
SIZES = Summary("app_response_size_bytes", "Response sizes.", ["handler"])
BUILD = Info("app_build", "Build information.")
STATE = Enum("app_state", "Lifecycle state.", states=["starting", "running", "stopping"])


def setup() -> None:
    BUILD.info({"version": "1.2.3", "revision": "abc123", "branch": "main"})
    STATE.state("running")
    for room in ("kitchen", "lab", "server room"):
        TEMPERATURE.labels(room=room).set(20.5)
    for method, code in (("GET", "200"), ("GET", "404"), ("POST", "200")):
        REQUESTS.labels(method=method, code=code)
    for handler in ("/", "/api"):
        LATENCY.labels(handler=handler)
        SIZES.labels(handler=handler)
    REGISTRY.register(TicksCollector())


def work_forever() -> None:
    """Steady activity: +1 request every 10 ms, observations, gauges that move."""
    n = 0
    while True:
        n += 1
        REQUESTS.labels(method="GET", code="200").inc()
        if n % 10 == 0:
            REQUESTS.labels(method="POST", code="200").inc(2)
            LATENCY.labels(handler="/api").observe((n % 37) / 100.0)
            SIZES.labels(handler="/").observe(float(n % 4096))
            TEMPERATURE.labels(room="lab").set(20.0 + (n % 50) / 10.0)
            IN_FLIGHT.set(n % 7)
        if n % 500 == 0:
            ERRORS.inc()
        time.sleep(0.01)


def main() -> None:
    setup()
    start_http_server(int(sys.argv[1]), addr="127.0.0.1")
    threading.Thread(target=work_forever, daemon=True).start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
