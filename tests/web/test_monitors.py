"""The Monitors page in headless chromium against a real pharos: a threshold monitor created
through the form (API validation errors inline), its state and group states in the list, its
state history once pushed data makes it transition, mute, delete; an anomaly monitor's band."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any, cast

from .conftest import get_json, shot, wait_until

API = "/api/pharos/v1/monitors"


def push_values(server: str, values: dict[str, float], job: str = "webmon") -> None:
    """Replace the Pushgateway group `job` with one `<job>_value` series per host."""
    body = "".join(f'{job}_value{{host="{h}"}} {v}\n' for h, v in values.items()).encode()
    req = urllib.request.Request(f"{server}/metrics/job/{job}", data=body, method="PUT")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status in (200, 202), r.status


def query_values(server: str, query: str) -> dict[str, float]:
    url = f"{server}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    result = get_json(url)["data"]["result"]  # type: ignore[index]
    return {s["metric"].get("host", ""): float(s["value"][1]) for s in result}


def monitor(server: str, name: str) -> dict[str, Any]:
    """The API's detail of a monitor."""
    return cast(dict[str, Any], get_json(f"{server}{API}/{urllib.parse.quote(name)}"))


def exists(server: str, name: str) -> bool:
    """Whether the API has the monitor (404 when not)."""
    try:
        monitor(server, name)
    except urllib.error.HTTPError as exc:
        assert exc.code == 404, exc.code
        return False
    return True


def send(server: str, method: str, path: str, body: object | None = None) -> int:
    req = urllib.request.Request(
        f"{server}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def create(server: str, name: str, kind: str, query: str, **options: object) -> None:
    """Create an API monitor evaluated every second."""
    body = {"name": name, "type": kind, "query": query, "interval": "1s", **options}
    assert send(server, "POST", API, body) == 201


def _done(pg: object) -> None:
    pg.wait_for_selector('[data-page="monitors"][data-state="done"]')  # type: ignore[attr-defined]


def test_threshold_monitor_form_list_history_mute_delete(server: str, page: tuple) -> None:
    pg, log = page
    name = "web-threshold"
    push_values(server, {"a": 1, "b": 2})
    query = "max by (host) (webmon_value)"
    wait_until(lambda: query_values(server, query) == {"a": 1.0, "b": 2.0})
    pg.goto(f"{server}/monitors")
    _done(pg)
    pg.click('[data-testid="new-monitor"]')
    pg.wait_for_selector('[data-testid="monitor-editor"]')
    assert "new=1" in pg.url
    pg.fill('[data-input="name"]', name)
    pg.fill('[data-input="query"]', query)
    pg.fill('[data-input="thresholds.critical"]', "10")
    pg.fill('[data-input="thresholds.warning"]', "50")
    pg.fill('[data-input="group_by"]', "host")
    pg.fill('[data-input="interval"]', "1s")
    pg.fill('[data-input="labels"]', "team=web")
    # The API refuses warning > critical: the message shows under the warning field.
    pg.click('[data-testid="monitor-save"]')
    err = pg.wait_for_selector(
        '[data-testid="error-thresholds.warning"]:has-text("must not be above critical")'
    )
    assert "warning must not be above critical for comparison above" in err.inner_text()
    assert pg.locator('[data-input="thresholds.warning"].has-error').count() == 1
    assert not exists(server, name)
    pg.fill('[data-input="thresholds.warning"]', "5")
    pg.click('[data-testid="monitor-save"]')
    pg.wait_for_url(re.compile(f"/monitors/{name}(\\?|$)"))  # the chart adds from/to
    _done(pg)
    created = monitor(server, name)
    definition = created["definition"]
    assert definition["group_by"] == ["host"] and definition["interval"] == 1.0
    assert definition["thresholds"] == {
        "critical": 10.0,
        "critical_recovery": None,
        "warning": 5.0,
        "warning_recovery": None,
    }
    assert definition["labels"] == {"team": "web"}

    # The list: the monitor's state and both groups OK; then host a passes critical.
    pg.goto(f"{server}/monitors?q=web-")
    row = pg.wait_for_selector(f'[data-monitor="{name}"][data-state="OK"]', timeout=20_000)
    assert row.query_selector('[data-testid="monitor-groups"] [data-group-state="OK"]').inner_text() == "2 OK"
    push_values(server, {"a": 20, "b": 2})
    row = pg.wait_for_selector(f'[data-monitor="{name}"][data-state="ALERT"]', timeout=20_000)
    groups = row.query_selector('[data-testid="monitor-groups"]').inner_text()
    assert "1 ALERT" in groups and "1 OK" in groups and 'host="a"' in groups and 'host="b"' not in groups
    assert (
        row.query_selector('[data-testid="last-transition"]').inner_text().startswith('OK → ALERT {host="a"}')
    )
    assert row.query_selector(".badge.state").get_attribute("class") == "badge state bad"
    # Filters: by state (in the URL) and by type.
    pg.click('[data-state-filter="OK"]')
    assert "state=OK" in pg.url
    assert pg.locator(f'[data-monitor="{name}"]').count() == 0
    pg.click('[data-state-filter="ALERT"]')
    assert pg.locator(f'[data-monitor="{name}"]').count() == 1
    pg.select_option('[data-testid="monitors-type"]', "log")
    assert pg.locator(f'[data-monitor="{name}"]').count() == 0 and "type=log" in pg.url
    pg.select_option('[data-testid="monitors-type"]', "metric")
    shot(pg, "monitors")

    # The detail: state history with the transition, groups, a chart with the thresholds.
    pg.click(f'[data-monitor="{name}"] [data-testid="monitor-link"]')
    pg.wait_for_url(re.compile(f"/monitors/{name}(\\?|$)"))  # the chart adds from/to
    _done(pg)
    trans = pg.wait_for_selector('[data-testid="transition"][data-from="OK"][data-to="ALERT"]')
    assert 'host="a"' in trans.inner_text() and "20" in trans.inner_text()
    assert pg.locator('[data-testid="group"][data-state="ALERT"]').count() == 1
    pg.wait_for_selector('[data-page="monitors"][data-chart="done"]')
    labels = pg.evaluate("window.__pharos.charts.monitor.uplot.series.slice(1).map(s => s.label)")
    assert sorted(labels) == sorted(['{host="a"}', '{host="b"}', "critical", "warning"])
    assert pg.evaluate("window.__pharos.charts.monitor.points") > 0
    shot(pg, "monitor-detail", full=True)

    # Mute for an hour, unmute, mute without end.
    pg.select_option('[data-testid="mute-for"]', "1h")
    pg.click('[data-testid="monitor-mute"]')
    pg.wait_for_selector('.page-head [data-testid="muted"]:has-text("muted until")')
    got = monitor(server, name)
    assert got["muted"] is True and got["mute_end"] is not None
    end = datetime.fromisoformat(str(got["mute_end"])[:19] + "+00:00").timestamp()
    assert 3500 < end - time.time() <= 3600
    pg.click('[data-testid="monitor-unmute"]')
    pg.wait_for_selector('.page-head [data-testid="muted"]', state="detached")
    assert monitor(server, name)["muted"] is False
    pg.click('[data-testid="monitor-mute"]')
    pg.wait_for_selector('.page-head [data-testid="muted"]')
    got = monitor(server, name)
    assert got["muted"] is True and got["mute_end"] is None
    pg.goto(f"{server}/monitors")
    pg.wait_for_selector(f'[data-monitor="{name}"] [data-testid="muted"]')

    # Delete: two clicks, back to the list, gone from the API.
    pg.click(f'[data-monitor="{name}"] [data-testid="monitor-link"]')
    _done(pg)
    pg.click('[data-testid="monitor-delete"]')
    assert exists(server, name)
    pg.click('[data-testid="monitor-delete"]')
    pg.wait_for_url(f"{server}/monitors")
    _done(pg)
    assert not exists(server, name)
    assert pg.locator(f'[data-monitor="{name}"]').count() == 0
    # The refused save is the only console error (the browser logs the 400 response).
    assert [e for e in log.errors if "status of 400" not in e] == [], log.errors
    assert len(log.errors) == 1


def _band(server: str, expr: str, seconds: int = 300) -> bool:
    """Whether `expr` has data over the last `seconds` on the chart's grid (whole seconds)."""
    now = time.time()
    url = f"{server}/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": expr, "start": int(now) - seconds, "end": now, "step": 1}
    )
    return bool(get_json(url)["data"]["result"])  # type: ignore[index]


def band_chart(pg: Any, server: str, band: str, path: str) -> list[str]:
    """Wait until `band` has data on the chart's grid, open `path`: its chart's series labels."""
    wait_until(lambda: _band(server, band), timeout=120)
    pg.goto(f"{server}{path}")
    _done(pg)
    pg.wait_for_selector('[data-page="monitors"][data-chart="done"]')
    return cast(
        list[str], pg.evaluate("window.__pharos.charts.monitor.uplot.series.slice(1).map(s => s.label)")
    )


def own_series(server: str) -> str:
    """The labels of the server's scrape of itself."""
    return f'{{instance="{server.removeprefix("http://")}", job="pharos"}}'


def test_anomaly_monitor_draws_its_band_and_edits_through_the_form(server: str, page: tuple) -> None:
    pg, log = page
    name = "web-anomaly"
    query = 'scrape_duration_seconds{job="pharos"}'
    create(server, name, "anomaly", query, anomaly={"algorithm": "basic", "step": "1s", "history": "10m"})
    # basic needs 48 points of history at the chart's 1s step.
    labels = band_chart(
        pg, server, f'anomaly_upper({query}, "basic", 2)', f"/monitors/{name}?from=now-5m&to=now"
    )
    key = own_series(server)
    assert labels == [f"scrape_duration_seconds{key}", f"band upper {key}", f"band lower {key}"]
    assert pg.evaluate("window.__pharos.charts.monitor.uplot.bands.length") == 1
    assert "1 band" in pg.locator('[data-testid="chart-status"]').inner_text()
    assert "Anomalous points" in pg.locator('[data-testid="monitor-groups"]').inner_text()
    shot(pg, "monitor-anomaly", full=True)
    # Edit: the form holds the definition; a new bound is saved and drawn.
    pg.click('[data-testid="monitor-edit"]')
    pg.wait_for_selector('[data-testid="monitor-editor"]')
    assert pg.locator('[data-input="name"]').is_disabled()
    assert pg.locator('[data-input="anomaly.step"]').input_value() == "1s"
    assert pg.locator('[data-input="anomaly.algorithm"]').input_value() == "basic"
    pg.fill('[data-input="anomaly.bounds"]', "3")
    pg.click('[data-testid="monitor-save"]')
    pg.wait_for_selector('[data-testid="monitor-editor"]', state="detached")
    wait_until(lambda: monitor(server, name)["definition"]["anomaly"]["bounds"] == 3.0)
    pg.wait_for_selector('[data-testid="monitor-definition"] [data-key="anomaly.bounds"]:has-text("3")')
    assert send(server, "DELETE", f"{API}/{name}") == 204
    assert log.errors == []


def test_log_monitor_charts_its_logql_query_and_composite_has_no_chart(server: str, page: tuple) -> None:
    pg, log = page
    query = 'sum(count_over_time({app="checkout"}[1h]))'  # the 40 lines conftest pushed
    create(server, "web-log", "log", query, thresholds={"critical": 30})
    create(server, "web-composite", "composite", "web-log")
    wait_until(lambda: monitor(server, "web-composite")["state"] == "ALERT")
    pg.goto(f"{server}/monitors/web-log?from=now-15m&to=now")
    _done(pg)
    pg.wait_for_selector('[data-page="monitors"][data-chart="done"]')
    assert pg.evaluate("window.__pharos.charts.monitor.uplot.series.slice(1).map(s => s.label)") == [
        "{}",
        "critical",
    ]
    values = pg.evaluate("window.__pharos.charts.monitor.uplot.data[1].filter(v => v !== null)")
    assert values and values[-1] == 40
    assert pg.locator('[data-testid="group"] [data-testid="group-state"]').inner_text() == "ALERT"
    pg.goto(f"{server}/monitors/web-composite")
    _done(pg)
    assert pg.locator('[data-testid="monitor-chart"]').is_hidden()
    assert pg.locator(".page-head .badge.state").inner_text() == "ALERT"
    assert (
        pg.locator('[data-testid="monitor-definition"] [data-key="query"]').inner_text().endswith("web-log")
    )
    # A monitor a composite refers to cannot be deleted: the API's message shows.
    pg.goto(f"{server}/monitors/web-log")
    _done(pg)
    pg.click('[data-testid="monitor-delete"]')
    pg.click('[data-testid="monitor-delete"]')
    pg.wait_for_selector(
        '[data-testid="monitor-page-error"]:has-text("used by composite monitors: web-composite")'
    )
    assert send(server, "DELETE", f"{API}/web-composite") == 204
    assert send(server, "DELETE", f"{API}/web-log") == 204
    assert [e for e in log.errors if "status of 409" not in e] == [], log.errors


def test_config_monitor_is_read_only_but_mutes(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(f"{server}/monitors?type=metric&q=config")
    row = pg.wait_for_selector('[data-monitor="web-config"][data-state="OK"]', timeout=20_000)
    assert "config" in row.inner_text()
    assert pg.locator('[data-testid="monitor"]').count() == 1
    pg.click('[data-monitor="web-config"] [data-testid="monitor-link"]')
    _done(pg)
    assert "defined in pharos.yml" in pg.locator(".page-head").inner_text()
    assert pg.locator('[data-testid="monitor-edit"], [data-testid="monitor-delete"]').count() == 0
    pg.click('[data-testid="monitor-mute"]')
    pg.wait_for_selector('.page-head [data-testid="muted"]')
    assert monitor(server, "web-config")["muted"] is True
    pg.click('[data-testid="monitor-unmute"]')
    pg.wait_for_selector('.page-head [data-testid="muted"]', state="detached")
    assert monitor(server, "web-config")["muted"] is False
    assert log.errors == []


def test_outlier_monitor_draws_its_outlying_member_in_red(server: str, page: tuple) -> None:
    pg, log = page
    push_values(server, {"a": 1, "b": 1.1, "c": 0.9, "d": 1.05, "e": 50}, job="webout")
    outlier = {"algorithm": "mad", "window": "1m", "step": "1s"}
    create(server, "web-outlier", "outlier", "webout_value", group_by=["host"], outlier=outlier)
    wait_until(lambda: monitor(server, "web-outlier")["state"] == "ALERT")
    wait_until(
        lambda: _band(server, "webout_value", 60) and _band(server, 'outliers(webout_value, "mad")', 60)
    )
    pg.goto(f"{server}/monitors/web-outlier?from=now-1m&to=now")
    _done(pg)
    pg.wait_for_selector('[data-page="monitors"][data-chart="done"]')
    strokes = pg.evaluate(
        "(u => u.series.slice(1).map((s, i) => [s.label, s.stroke(u, i + 1)]))(window.__pharos.charts.monitor.uplot)"
    )
    red = [label for label, stroke in strokes if stroke == "#c4162a"]
    assert red == ['webout_value{host="e", job="webout"}'] and len(strokes) == 5
    assert pg.locator('[data-testid="group"][data-state="ALERT"]').inner_text().startswith('host="e"')
    assert send(server, "DELETE", f"{API}/web-outlier") == 204
    assert log.errors == []


def test_forecast_monitor_draws_the_forecast_band_and_threshold(server: str, page: tuple) -> None:
    pg, log = page
    query = 'pharos_tsdb_head_series{job="pharos"}'
    forecast = {"algorithm": "linear", "model": "reactive", "horizon": "10m", "step": "1s", "history": "10m"}
    create(server, "web-forecast", "forecast", query, thresholds={"critical": 1e6}, forecast=forecast)
    band = f'forecast_upper({query}, "linear", 600, "reactive")'
    labels = band_chart(pg, server, band, "/monitors/web-forecast?from=now-5m&to=now")
    key = own_series(server)
    assert labels == [
        f"pharos_tsdb_head_series{key}",
        f"forecast +10m upper {key}",
        f"forecast +10m lower {key}",
        "critical",
    ]
    assert pg.evaluate("window.__pharos.charts.monitor.uplot.bands.length") == 1
    assert "Band extreme" in pg.locator('[data-testid="monitor-groups"]').inner_text()
    assert send(server, "DELETE", f"{API}/web-forecast") == 204
    assert log.errors == []


def test_no_data_state_shows_and_filters(server: str, page: tuple) -> None:
    pg, log = page
    create(
        server,
        "web-nodata",
        "metric",
        "web_never_pushed",
        thresholds={"critical": 1},
        notify_no_data=True,
        no_data_timeframe="2s",
    )
    wait_until(lambda: monitor(server, "web-nodata")["state"] == "NO DATA")
    pg.goto(f"{server}/monitors?state=NO+DATA")
    row = pg.wait_for_selector('[data-monitor="web-nodata"]')
    assert row.get_attribute("data-state") == "NO DATA"
    assert row.query_selector(".badge.state").get_attribute("class") == "badge state nodata"
    assert pg.locator('[data-testid="monitor"]').count() == 1
    assert pg.locator('[data-state-filter="NO DATA"]').inner_text() == "NO DATA (1)"
    assert send(server, "DELETE", f"{API}/web-nodata") == 204
    assert log.errors == []
