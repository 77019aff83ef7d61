"""Interop: the python-logging-loki handler (both of its emitters) pushes and the lines come back;
requests shaped as Grafana's Loki data source sends them get Loki-shaped answers."""

from __future__ import annotations

import logging
import time

import pytest
from loghelp import NS

logging_loki = pytest.importorskip("logging_loki")


@pytest.mark.parametrize("version", ["0", "1"])
def test_python_logging_loki_handler_pushes(server, version):
    handler = logging_loki.LokiHandler(url=server.url + "/loki/api/v1/push", tags={"application": "shop"},
                                       version=version)
    logger = logging.getLogger(f"interop.v{version}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    start = time.time_ns() - 5 * NS
    try:
        logger.info("order %d placed", 42)
        logger.error("payment failed", extra={"tags": {"service": "pay"}})
    finally:
        logger.removeHandler(handler)
        handler.close()
    r = server.get("/loki/api/v1/query_range", query='{application="shop"}', start=start,
                   end=time.time_ns() + 5 * NS, direction="forward")
    got = {(s["stream"]["severity"], v[1]): s["stream"] for s in r.json()["data"]["result"] for v in s["values"]}
    assert set(got) == {("info", "order 42 placed"), ("error", "payment failed")}
    assert got[("info", "order 42 placed")] == {"application": "shop", "logger": f"interop.v{version}",
                                                 "severity": "info"}
    assert got[("error", "payment failed")]["service"] == "pay"


def _seed(server) -> int:
    t0 = (time.time_ns() // NS - 300) * NS
    streams = [{"stream": {"app": "web", "level": lvl}, "values": [[str(t0 + i * NS), f"{lvl} {i}"] for i in range(n)]}
               for lvl, n in (("info", 6), ("error", 2))]
    assert server.push(streams).status_code == 204
    return t0


def test_grafana_explore_requests(server):
    t0 = _seed(server)
    start, end = str(t0 - 60 * NS), str(t0 + 60 * NS)
    # Explore, logs panel: query_range with Grafana's parameters
    r = server.get("/loki/api/v1/query_range", query='{app="web"}', limit=1000, start=start, end=end, step="1s",
                   direction="backward")
    data = r.json()["data"]
    assert r.headers["content-type"] == "application/json" and data["resultType"] == "streams"
    values = [v for s in data["result"] for v in s["values"]]
    assert len(values) == 8 and all(isinstance(ts, str) and ts.isdigit() for ts, _ in values)
    # the logs volume histogram Grafana runs next to it
    r = server.get("/loki/api/v1/query_range", query='sum by (level) (count_over_time({app="web"} | drop __error__[1m]))',
                   start=start, end=end, step="60s")
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    totals = {s["metric"]["level"]: sum(float(v) for _, v in s["values"]) for s in data["result"]}
    assert totals == {"info": 6.0, "error": 2.0}
    assert all(isinstance(t, int) and isinstance(v, str) for s in data["result"] for t, v in s["values"])


def test_grafana_metadata_requests(server):
    t0 = _seed(server)
    rng = {"start": str(t0 - 60 * NS), "end": str(t0 + 60 * NS)}
    assert server.get("/loki/api/v1/labels", **rng).json() == {"status": "success", "data": ["app", "level"]}
    r = server.get("/loki/api/v1/label/level/values", query='{app="web"}', **rng)
    assert r.json() == {"status": "success", "data": ["error", "info"]}
    r = server.client.get("/loki/api/v1/series", params=[("match[]", '{app="web"}'), *rng.items()])
    assert r.json()["data"] == [{"app": "web", "level": "error"}, {"app": "web", "level": "info"}]
    r = server.get("/loki/api/v1/index/volume", query='{app="web"}', limit=5000, aggregateBy="series",
                   targetLabels="level", **rng)
    result = r.json()["data"]["result"]
    assert [(x["metric"], x["value"][1]) for x in result] == [
        ({"level": "info"}, str(sum(len(f"info {i}") for i in range(6)))),
        ({"level": "error"}, str(sum(len(f"error {i}") for i in range(2))))]
    r = server.get("/loki/api/v1/index/stats", query='{app="web"}', **rng)
    assert r.json()["entries"] == 8 and r.json()["streams"] == 2
    info = server.get("/loki/api/v1/status/buildinfo").json()
    assert info["version"].startswith("3.")
