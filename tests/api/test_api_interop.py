"""pharos and the real Prometheus 2.42 scrape the same prometheus_client app; their API
answers are compared side by side (bodies where they must be equal, shapes and error types
where the content differs by nature, e.g. parser messages and build info)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pharos_testproc import PharosProcess, free_port, wait_for
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

PROMETHEUS = "/usr/bin/prometheus"
pytestmark = pytest.mark.interop


class Pair:
    """The two servers, asked the same questions."""

    def __init__(self, prom: httpx.Client, pharos: httpx.Client) -> None:
        self.prom = prom
        self.pharos = pharos

    def both(self, method: str, path: str, **kw: Any) -> tuple[httpx.Response, httpx.Response]:
        return self.prom.request(method, path, **kw), self.pharos.request(method, path, **kw)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert shutil.which(PROMETHEUS), "prometheus 2.42 is required (make test installs it)"
    tmp = tmp_path_factory.mktemp("interop")
    registry = CollectorRegistry()
    requests = Counter("app_requests", "Requests handled.", ["path"], registry=registry)
    requests.labels("/a").inc(3)
    requests.labels("/b").inc()
    Gauge("app_temperature_celsius", "Temperature.", unit="celsius", registry=registry).set(21.5)
    app_port = free_port()
    app_server, _app_thread = start_http_server(app_port, addr="127.0.0.1", registry=registry)
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n"
        f"  - job_name: app\n    static_configs:\n      - targets: ['127.0.0.1:{app_port}']\n"
    )
    prom_port = free_port()
    prom_log = (tmp / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'prom-data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--web.enable-lifecycle",
        ],
        stdout=prom_log,
        stderr=subprocess.STDOUT,
    )
    pharos = PharosProcess(tmp, "server", ["--config", str(config)])
    prom_client = httpx.Client(base_url=f"http://127.0.0.1:{prom_port}", timeout=30)
    try:
        pharos.wait_ready()
        pair = Pair(prom_client, pharos.client)
        for client in (prom_client, pharos.client):
            wait_for(
                lambda c=client: _has_series(c, '{job="app"}', 4), timeout=60, what="both to scrape the app"
            )
        yield pair
    finally:
        pharos.stop()
        prom.terminate()
        prom.wait(timeout=30)
        prom_log.close()
        prom_client.close()
        app_server.shutdown()


def _has_series(client: httpx.Client, selector: str, n: int) -> bool:
    try:
        resp = client.get("/api/v1/series", params={"match[]": selector})
    except httpx.HTTPError:
        return False
    return resp.status_code == 200 and len(resp.json()["data"]) >= n


def _sorted(rows: list[dict[str, str]]) -> list[tuple]:
    return sorted(tuple(sorted(r.items())) for r in rows)


def test_series_and_labels_equal(pair: Pair) -> None:
    p, h = pair.both("GET", "/api/v1/series", params={"match[]": '{job="app"}'})
    app_series = [s for s in p.json()["data"] if s["__name__"].startswith(("app_", "up"))]
    ours = [s for s in h.json()["data"] if s["__name__"].startswith(("app_", "up"))]
    assert _sorted(ours) == _sorted(app_series)
    selector = {"match[]": '{__name__=~"app_.*"}'}
    p, h = pair.both("GET", "/api/v1/labels", params=selector)
    assert h.json() == p.json()
    p, h = pair.both("POST", "/api/v1/labels", data=selector)
    assert h.json() == p.json()
    p, h = pair.both("GET", "/api/v1/label/__name__/values", params=selector)
    assert h.json() == p.json()
    p, h = pair.both("GET", "/api/v1/label/path/values", params={"match[]": "app_requests_total"})
    assert h.json() == p.json() == {"status": "success", "data": ["/a", "/b"]}


def test_targets_equal_but_for_timing(pair: Pair) -> None:
    p, h = pair.both("GET", "/api/v1/targets")
    [pt] = p.json()["data"]["activeTargets"]
    [ht] = h.json()["data"]["activeTargets"]
    assert set(ht) == set(pt)
    for key in (
        "labels",
        "scrapePool",
        "scrapeUrl",
        "health",
        "scrapeInterval",
        "scrapeTimeout",
        "lastError",
    ):
        assert ht[key] == pt[key], key
    assert ht["discoveredLabels"] == pt["discoveredLabels"]
    assert ht["lastScrape"].endswith("Z") and isinstance(ht["lastScrapeDuration"], float)
    for state in ("dropped", "active", "bogus"):
        p, h = pair.both("GET", "/api/v1/targets", params={"state": state})
        assert {k: len(v) for k, v in h.json()["data"].items()} == {
            k: len(v) for k, v in p.json()["data"].items()
        }


def test_metadata_equal(pair: Pair) -> None:
    for metric in ("app_requests", "app_temperature_celsius", "no_such_metric"):
        p, h = pair.both("GET", "/api/v1/metadata", params={"metric": metric})
        assert h.json() == p.json(), metric
        p, h = pair.both("GET", "/api/v1/targets/metadata", params={"metric": metric})
        assert h.json() == p.json(), metric
    p, h = pair.both("GET", "/api/v1/metadata", params={"limit": "0"})
    assert h.json() == p.json()


ERRORS: list[tuple[str, str, dict[str, str], bool]] = [
    # method, path, params, whether the message must be identical too
    ("GET", "/api/v1/series", {}, True),
    ("GET", "/api/v1/series", {"match[]": "up", "start": "x"}, True),
    ("GET", "/api/v1/series", {"match[]": "up", "end": "1e3x"}, True),
    ("GET", "/api/v1/labels", {"start": "yesterday"}, True),
    ("GET", "/api/v1/label/0bad/values", {}, True),
    ("GET", "/api/v1/label/job/values", {"end": "x"}, True),
    ("GET", "/api/v1/metadata", {"limit": "x"}, True),
    ("GET", "/api/v1/targets/metadata", {"limit": "x"}, True),
    ("DELETE", "/api/v1/series", {"match[]": "up"}, True),
    ("GET", "/api/v1/series", {"match[]": "up{"}, False),
    ("GET", "/api/v1/series", {"match[]": "rate(up[5m])"}, False),
    ("GET", "/api/v1/series", {"match[]": '{job=""}'}, True),
    ("GET", "/api/v1/series", {"match[]": '{job=~".*"}'}, True),
    ("GET", "/api/v1/labels", {"match[]": "up{"}, False),
    ("GET", "/api/v1/targets/metadata", {"match_target": '{job="x"'}, False),
]


@pytest.mark.parametrize(("method", "path", "params", "exact"), ERRORS)
def test_errors_match(pair: Pair, method: str, path: str, params: dict[str, str], exact: bool) -> None:
    p, h = pair.both(method, path, params=params)
    assert h.status_code == p.status_code
    assert h.headers["content-type"] == p.headers["content-type"] == "application/json"
    pj, hj = p.json(), h.json()
    assert (hj["status"], hj["errorType"]) == (pj["status"], pj["errorType"])
    if exact:
        assert hj == pj
    else:  # parser messages differ (promql-parser vs Prometheus's own); their frame must not
        assert "parse error" in pj["error"] and "parse error" in hj["error"]
        wrapped = pj["error"].startswith("invalid parameter")
        assert hj["error"].split(": ")[0] == (pj["error"].split(": ")[0] if wrapped else "parse error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/label/job/values"),
        ("PUT", "/api/v1/series"),
        ("POST", "/api/v1/metadata"),
        ("POST", "/api/v1/targets"),
        ("GET", "/-/reload"),
        ("POST", "/-/healthy"),
        ("GET", "/api/v1/no_such_endpoint"),
        ("OPTIONS", "/api/v1/labels"),
        ("GET", "/-/healthy"),
        ("HEAD", "/-/ready"),
        ("POST", "/-/reload"),
    ],
)
def test_status_codes_match(pair: Pair, method: str, path: str) -> None:
    p, h = pair.both(method, path)
    assert h.status_code == p.status_code


def test_status_shapes_match(pair: Pair) -> None:
    for path in ("/api/v1/status/buildinfo", "/api/v1/status/runtimeinfo", "/api/v1/status/tsdb"):
        p, h = pair.both("GET", path)
        assert set(h.json()["data"]) == set(p.json()["data"]), path
    p, h = pair.both("GET", "/api/v1/status/tsdb")
    assert set(h.json()["data"]["headStats"]) == set(p.json()["data"]["headStats"])
    p, h = pair.both("GET", "/api/v1/status/config")
    assert set(h.json()["data"]) == set(p.json()["data"]) == {"yaml"}


def test_cors_headers_match(pair: Pair) -> None:
    p, h = pair.both("GET", "/api/v1/labels", headers={"Origin": "http://grafana.example"})
    for header in (
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
    ):
        assert h.headers.get(header) == p.headers.get(header), header


def test_export_matches_prometheus_samples(pair: Pair) -> None:
    """The counter's samples read back through export equal what pharos' own query API and
    Prometheus agree on: same values for the same (unchanging) counter."""
    h = pair.pharos.get("/api/v1/export", params={"match[]": 'app_requests_total{path="/a"}'})
    [row] = [httpx.Response(200, content=line).json() for line in h.text.splitlines()]
    assert set(row["values"]) == {3.0}
    assert row["timestamps"] == sorted(set(row["timestamps"]))
