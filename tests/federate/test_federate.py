"""/federate: the bytes of the text format, newest non-stale sample per series within 5m,
external labels added where missing; and the real prometheus 2.42 scraping it."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from live_server import LiveServer, append
from prom_proc import Prometheus

from pharos.metrics.model import STALE_NAN


def fill(runtime: SimpleNamespace, now: int) -> None:
    tsdb = runtime.tsdb
    append(
        tsdb, {"__name__": "up", "job": "node", "instance": "a:1"}, [now - 30_000, now - 15_000], [0.0, 1.0]
    )
    append(tsdb, {"__name__": "up", "job": "node", "instance": "b:1"}, [now - 15_000], [1.0])
    append(
        tsdb,
        {"__name__": "http_requests_total", "job": "api", "path": 'say "hi"\n'},
        [now - 1000],
        [1234567.0],
    )
    append(tsdb, {"__name__": "gone", "job": "api"}, [now - 20_000, now - 10_000], [1.0, STALE_NAN])
    append(tsdb, {"__name__": "old", "job": "api"}, [now - 600_000], [1.0])
    append(tsdb, {"__name__": "Upper", "A": "x"}, [now - 1000], [-0.5])


def test_federate_text(fed: tuple[LiveServer, SimpleNamespace]) -> None:
    server, runtime = fed
    now = int(time.time() * 1000)
    fill(runtime, now)
    r = httpx.get(
        server.url + "/federate", params=[("match[]", "up"), ("match[]", '{job="api"}'), ("match[]", "Upper")]
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert r.text == (
        "# TYPE Upper untyped\n"
        f'Upper{{A="x",job="ignored-when-present",region="eu"}} -0.5 {now - 1000}\n'
        "# TYPE http_requests_total untyped\n"
        f'http_requests_total{{job="api",path="say \\"hi\\"\\n",region="eu"}} 1.234567e+06 {now - 1000}\n'
        "# TYPE up untyped\n"
        f'up{{instance="a:1",job="node",region="eu"}} 1 {now - 15_000}\n'
        f'up{{instance="b:1",job="node",region="eu"}} 1 {now - 15_000}\n'
    )
    assert httpx.get(server.url + "/federate").text == ""
    r = httpx.get(server.url + "/federate", params={"match[]": "up{"})
    assert r.status_code == 400 and r.text.startswith("parse error")
    r = httpx.post(server.url + "/federate", data={"match[]": "up"})
    assert r.text.count("\n") == 3


@pytest.mark.interop
def test_prometheus_scrapes_federate(fed: tuple[LiveServer, SimpleNamespace], tmp_path: Path) -> None:
    server, runtime = fed
    now = int(time.time() * 1000)
    fill(runtime, now)
    config = f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: federate
    honor_labels: true
    metrics_path: /federate
    params: {{'match[]': ['up', '{{job="api"}}']}}
    static_configs:
      - targets: ['{server.url.removeprefix("http://")}']
"""
    prom = Prometheus(tmp_path / "prom", config)
    try:
        deadline = time.monotonic() + 30
        while True:
            r = prom.client.get("/api/v1/query", params={"query": '{region="eu"}', "time": now / 1000})
            result = r.json()["data"]["result"]
            if len(result) == 3:
                break
            assert time.monotonic() < deadline, result
            time.sleep(0.2)
        got = {tuple(sorted(s["metric"].items())): s["value"][1] for s in result}
        assert got == {
            (("__name__", "up"), ("instance", "a:1"), ("job", "node"), ("region", "eu")): "1",
            (("__name__", "up"), ("instance", "b:1"), ("job", "node"), ("region", "eu")): "1",
            # no instance label federated: the federating target's own instance is attached
            (
                ("__name__", "http_requests_total"),
                ("instance", server.url.removeprefix("http://")),
                ("job", "api"),
                ("path", 'say "hi"\n'),
                ("region", "eu"),
            ): "1234567",
        }
    finally:
        prom.stop()
