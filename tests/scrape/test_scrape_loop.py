"""Scraping loopback targets into a real TSDB: samples, labels, synthetic series, limits,
honor_labels/honor_timestamps, gzip, staleness, health and metadata."""

from __future__ import annotations

import base64
import math

import pytest
from scrape_helpers import config, is_stale, job, loops, only_loop, points, series

from pharos.metrics.model import make_labels
from pharos.metrics.scrape.manager import ScrapeManager
from pharos.metrics.tsdb.db import TSDB

BODY = """# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",method="get"} 10
http_requests_total{code="500",method="get"} 2
# HELP temperature_celsius A temperature.
# TYPE temperature_celsius gauge
temperature_celsius 21.5
"""
T0 = 1_700_000_000_000


async def start(tsdb: TSDB, *jobs: dict, **glob: object) -> ScrapeManager:
    """A manager whose loops do not run by themselves: tests call scrape_once."""
    manager = ScrapeManager(tsdb, end_of_run_stale_delay=0)
    await manager.apply_config(config(*jobs, **glob))
    await pause(manager)
    return manager


async def pause(manager: ScrapeManager) -> None:
    for lp in loops(manager):
        await lp.stop()


async def test_samples_and_target_labels(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address))
    await only_loop(m).scrape_once(T0)
    got = series(tsdb, "http_requests_total")
    base = {"job": "app", "instance": t.address, "method": "get"}
    assert got == {
        make_labels({"__name__": "http_requests_total", "code": "200", **base}): [(T0, 10.0)],
        make_labels({"__name__": "http_requests_total", "code": "500", **base}): [(T0, 2.0)],
    }
    assert points(tsdb, "temperature_celsius", job="app") == [(T0, 21.5)]
    await m.stop()


async def test_synthetic_series(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address, metric_relabel_configs=[
        {"source_labels": ["code"], "regex": "500", "action": "drop"}]))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    await lp.scrape_once(T0 + 1000)
    labels = {"job": "app", "instance": t.address}
    assert points(tsdb, "up", **labels) == [(T0, 1.0), (T0 + 1000, 1.0)]
    assert [v for _, v in points(tsdb, "scrape_samples_scraped", **labels)] == [3.0, 3.0]
    assert [v for _, v in points(tsdb, "scrape_samples_post_metric_relabeling", **labels)] == [2.0, 2.0]
    assert [v for _, v in points(tsdb, "scrape_series_added", **labels)] == [2.0, 0.0]
    duration = points(tsdb, "scrape_duration_seconds", **labels)
    assert len(duration) == 2 and all(v >= 0 for _, v in duration)
    assert series(tsdb, "http_requests_total", code="500") == {}
    await m.stop()


async def test_request_headers_and_basic_auth(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address, scrape_timeout=7.0,
                              basic_auth={"username": "u", "password": "p"}))
    await only_loop(m).scrape_once(T0)
    h = t.requests[-1].headers
    assert h["Accept"].startswith("application/openmetrics-text;version=1.0.0")
    assert h["Accept-Encoding"] == "gzip"
    assert h["X-Prometheus-Scrape-Timeout-Seconds"] == "7"
    assert h["User-Agent"].startswith("Pharos/")
    assert h["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    await m.stop()


async def test_bearer_token_file_and_params(tsdb: TSDB, make_target, tmp_path) -> None:
    t = await make_target(BODY)
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    m = await start(tsdb, job("app", t.address, bearer_token_file=str(token),
                              metrics_path="/probe", params={"module": ["x"]}))
    await only_loop(m).scrape_once(T0)
    req = t.requests[-1]
    assert req.headers["Authorization"] == "Bearer s3cret"
    assert req.path_qs == "/probe?module=x"
    await m.stop()


async def test_gzip_body(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY, gzip=True)
    m = await start(tsdb, job("app", t.address))
    await only_loop(m).scrape_once(T0)
    assert points(tsdb, "temperature_celsius") == [(T0, 21.5)]
    assert only_loop(m).health == "up"
    await m.stop()


async def test_honor_labels_false_renames_conflicts(tsdb: TSDB, make_target) -> None:
    t = await make_target('foo{job="x",instance="y",exported_job="z"} 1\n')
    m = await start(tsdb, job("app", t.address))
    await only_loop(m).scrape_once(T0)
    (labels,) = series(tsdb, "foo")
    assert dict(labels) == {
        "__name__": "foo", "job": "app", "instance": t.address,
        "exported_job": "z", "exported_exported_job": "x", "exported_instance": "y",
    }
    await m.stop()


async def test_honor_labels_true_keeps_scraped(tsdb: TSDB, make_target) -> None:
    t = await make_target('foo{job="x"} 1\nbar 2\n')
    m = await start(tsdb, job("app", t.address, honor_labels=True))
    await only_loop(m).scrape_once(T0)
    assert points(tsdb, "foo", job="x", instance=t.address) == [(T0, 1.0)]
    assert points(tsdb, "bar", job="app") == [(T0, 2.0)]
    await m.stop()


@pytest.mark.parametrize(("honor", "expected"), [(True, T0 - 5000), (False, T0)])
async def test_honor_timestamps(tsdb: TSDB, make_target, honor: bool, expected: int) -> None:
    t = await make_target(f"foo 1 {T0 - 5000}\n")
    m = await start(tsdb, job("app", t.address, honor_timestamps=honor))
    await only_loop(m).scrape_once(T0)
    assert points(tsdb, "foo") == [(expected, 1.0)]
    await m.stop()


LIMIT_CASES = [
    ({"sample_limit": 2}, "sample limit exceeded"),
    ({"label_limit": 4}, "label_limit exceeded (metric: http_requests_total, number of labels: 5, limit: 4)"),
    ({"label_name_length_limit": 5},
     "label_name_length_limit exceeded (metric: http_requests_total, label name: __name__, length: 8, limit: 5)"),
    ({"label_value_length_limit": 10},
     'label_value_length_limit exceeded (metric: http_requests_total, label name: __name__, '
     'value: "http_requests_total", length: 19, limit: 10)'),
    ({"body_size_limit": 100}, "body size limit exceeded"),
]


@pytest.mark.parametrize(("limits", "message"), LIMIT_CASES)
@pytest.mark.parametrize("gz", [False, True])
async def test_limits_fail_the_whole_scrape(tsdb: TSDB, make_target, limits, message, gz) -> None:
    t = await make_target(BODY, gzip=gz)
    m = await start(tsdb, job("app", t.address, **limits))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    assert lp.health == "down"
    assert lp.last_error == message
    assert series(tsdb, "http_requests_total") == {}
    assert series(tsdb, "temperature_celsius") == {}
    assert points(tsdb, "up", job="app") == [(T0, 0.0)]
    await m.stop()


async def test_global_limits_apply(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address), sample_limit=1)
    lp = only_loop(m)
    await lp.scrape_once(T0)
    assert lp.last_error == "sample limit exceeded"
    assert points(tsdb, "scrape_samples_scraped") == [(T0, 3.0)]
    await m.stop()


async def test_stale_marker_when_series_disappears(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    t.body = BODY.replace('http_requests_total{code="500",method="get"} 2\n', "")
    await lp.scrape_once(T0 + 1000)
    gone = points(tsdb, "http_requests_total", code="500")
    assert gone[0] == (T0, 2.0)
    assert gone[1][0] == T0 + 1000 and is_stale(gone[1][1])
    assert points(tsdb, "http_requests_total", code="200") == [(T0, 10.0), (T0 + 1000, 10.0)]
    await m.stop()


async def test_failed_scrape_marks_everything_stale(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    t.status = 500
    await lp.scrape_once(T0 + 1000)
    assert lp.last_error == "server returned HTTP status 500 Internal Server Error"
    for name in ("http_requests_total", "temperature_celsius"):
        for pts in series(tsdb, name).values():
            assert pts[-1][0] == T0 + 1000 and is_stale(pts[-1][1])
    assert points(tsdb, "up") == [(T0, 1.0), (T0 + 1000, 0.0)]
    # a second failure writes no more markers; recovery writes samples again
    await lp.scrape_once(T0 + 2000)
    t.status = 200
    await lp.scrape_once(T0 + 3000)
    assert [ts for ts, _ in points(tsdb, "temperature_celsius")] == [T0, T0 + 1000, T0 + 3000]
    await m.stop()


async def test_explicit_timestamps_are_not_marked_stale(tsdb: TSDB, make_target) -> None:
    t = await make_target(f"foo 1 {T0 - 5000}\nbar 2\n")
    m = await start(tsdb, job("app", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    t.body = ""
    await lp.scrape_once(T0 + 1000)
    assert points(tsdb, "foo") == [(T0 - 5000, 1.0)]
    assert is_stale(points(tsdb, "bar")[-1][1])
    await m.stop()


async def test_parse_error_fails_scrape(tsdb: TSDB, make_target) -> None:
    t = await make_target("foo 1\nthis is { not valid\n")
    m = await start(tsdb, job("app", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    assert lp.health == "down" and lp.last_error
    assert series(tsdb, "foo") == {}
    await m.stop()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('foo 1\nbar{b="1",b="2"} 1\n', 'label name "b" is not unique: invalid sample'),
        ('foo 1\n{"bad.name"} 1\n', "invalid metric name or label names"),
    ],
)
async def test_invalid_series_fail_the_scrape_as_prometheus_242(
    tsdb: TSDB, make_target, body: str, message: str
) -> None:
    t = await make_target(body)
    m = await start(tsdb, job("app", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    assert lp.health == "down" and message in lp.last_error
    assert series(tsdb, "foo") == {}
    await m.stop()


async def test_connection_refused_and_timeout(tsdb: TSDB, make_target) -> None:
    import asyncio

    from aiohttp import web

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="x 1\n")

    app = web.Application()
    app.router.add_get("/metrics", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    slow_addr = f"127.0.0.1:{runner.addresses[0][1]}"
    m = await start(tsdb, job("dead", "127.0.0.1:1"), job("slow", slow_addr, scrape_timeout=0.2))
    for lp in loops(m):
        await lp.scrape_once(T0)
    by_job = {lp.settings.job_name: lp for lp in loops(m)}
    assert by_job["dead"].last_error == (
        'Get "http://127.0.0.1:1/metrics": dial tcp 127.0.0.1:1: connect: connection refused'
    )
    assert by_job["slow"].last_error == f'Get "http://{slow_addr}/metrics": context deadline exceeded'
    await m.stop()
    await runner.cleanup()


async def test_targets_snapshot(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    relabel = [{"source_labels": ["__address__"], "regex": "drop.*", "action": "drop"}]
    m = await start(tsdb, {"job_name": "app", "relabel_configs": relabel, "scrape_interval": 30.0,
                           "static_configs": [{"targets": [t.address, "drop-me:1"], "labels": {"env": "x"}}]})
    snap = m.targets()
    (active,) = snap.active
    assert active.health == "unknown" and active.last_scrape == 0
    assert active.labels == {"env": "x", "instance": t.address, "job": "app"}
    assert active.discovered_labels["__address__"] == t.address
    assert active.scrape_pool == "app"
    assert active.scrape_url == f"http://{t.address}/metrics"
    assert (active.scrape_interval, active.scrape_timeout) == (30.0, 5.0)
    assert [d.discovered_labels["__address__"] for d in snap.dropped] == ["drop-me:1"]
    await only_loop(m).scrape_once()
    (active,) = m.targets().active
    assert active.health == "up" and active.last_error == "" and active.last_scrape > 0
    await m.stop()


async def test_metadata(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address))
    await only_loop(m).scrape_once(T0)
    md = {e.metric: e for e in m.metadata()}
    assert md["http_requests_total"].type == "counter"
    assert md["http_requests_total"].help == "Requests."
    assert md["temperature_celsius"].type == "gauge"
    assert dict(md["temperature_celsius"].target) == {"job": "app", "instance": t.address}
    await m.stop()


async def test_cache_hits_do_not_create_series(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    m = await start(tsdb, job("app", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    refs = dict(lp.cache.refs)
    await lp.scrape_once(T0 + 1000)
    assert lp.cache.refs == refs and len(refs) == 3
    await m.stop()


async def test_openmetrics_body_and_unit_metadata(tsdb: TSDB, make_target) -> None:
    body = (
        "# TYPE build_seconds counter\n# UNIT build_seconds seconds\n# HELP build_seconds Build time.\n"
        "build_seconds_total 3.5\n# EOF\n"
    )
    t = await make_target(body, content_type="application/openmetrics-text; version=1.0.0; charset=utf-8")
    m = await start(tsdb, job("app", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    assert lp.last_error == ""
    assert points(tsdb, "build_seconds_total") == [(T0, 3.5)]
    (md,) = [e for e in m.metadata() if e.metric == "build_seconds"]
    assert (md.type, md.unit, md.help) == ("counter", "seconds", "Build time.")
    await m.stop()


async def test_own_metrics_count_scrapes(tsdb: TSDB, make_target) -> None:
    from prometheus_client import REGISTRY

    def value(name: str) -> float:
        return REGISTRY.get_sample_value(name, {"scrape_job": "selfmetrics"}) or 0.0

    t = await make_target(BODY)
    m = await start(tsdb, job("selfmetrics", t.address))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    t.status = 503
    await lp.scrape_once(T0 + 1000)
    assert value("pharos_scrapes_total") == 2
    assert value("pharos_scrape_failures_total") == 1
    assert value("pharos_samples_scraped_total") == 3
    await m.stop()


async def test_repeated_page_with_new_values(tsdb: TSDB, make_target) -> None:
    t = await make_target(BODY)
    drop_500 = [{"source_labels": ["code"], "regex": "500", "action": "drop"}]
    m = await start(tsdb, job("app", t.address, metric_relabel_configs=drop_500))
    lp = only_loop(m)
    await lp.scrape_once(T0)
    layout = lp.parse_cache.layout
    t.body = BODY.replace("} 10\n", "} 1.5e+09\n").replace("21.5", "NaN")
    await lp.scrape_once(T0 + 1000)
    assert layout is not None and lp.parse_cache.layout is layout  # read through the page layout
    assert points(tsdb, "http_requests_total", code="200") == [(T0, 10.0), (T0 + 1000, 1.5e9)]
    assert series(tsdb, "http_requests_total", code="500") == {}
    (first, (ts, nan)) = points(tsdb, "temperature_celsius")
    assert first == (T0, 21.5) and ts == T0 + 1000 and math.isnan(nan) and not is_stale(nan)
    assert points(tsdb, "scrape_samples_scraped") == [(T0, 3.0), (T0 + 1000, 3.0)]
    assert points(tsdb, "scrape_samples_post_metric_relabeling") == [(T0, 2.0), (T0 + 1000, 2.0)]
    assert points(tsdb, "scrape_series_added") == [(T0, 2.0), (T0 + 1000, 0.0)]
    await m.stop()
