"""Explore logs, metrics <-> logs, alerts, silences, rules and the log-store status in headless
chromium against a real pharos holding pushed log lines and rules that fire."""

from __future__ import annotations

import time
import urllib.parse

from .conftest import get_json, push_logs, shot, wait_until


def _logs(server: str, query: str, **extra: str) -> str:
    return f"{server}/logs?" + urllib.parse.urlencode({"q": query, "from": "now-15m", "to": "now", **extra})


def _done(pg: object, name: str) -> None:
    pg.wait_for_selector(f'[data-page="{name}"][data-state="done"]')  # type: ignore[attr-defined]


def test_logql_query_lists_expected_lines_with_levels_fields_and_volume(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(_logs(server, '{app="checkout"}'))
    _done(pg, "logs")
    lines = pg.locator('[data-testid="log-lines"] .log-line')
    assert lines.count() == 40
    assert "order 39" in lines.first.inner_text()  # newest first
    levels = set(pg.eval_on_selector_all(".log-line", "els => els.map(e => e.dataset.level)"))
    assert levels == {"info", "warn", "error", "debug"}
    # The volume histogram: one series per level, drawn by uPlot.
    pg.wait_for_selector('[data-page="logs"][data-volume="done"]')
    names = pg.evaluate("window.__pharos.charts['logs-volume'].uplot.series.slice(1).map(s => s.label)")
    assert sorted(names) == ["debug", "error", "info", "warn"]
    assert pg.evaluate("window.__pharos.charts['logs-volume'].points") > 0
    # JSON fields expand, with per-field value stats over the loaded lines.
    lines.first.click()
    fields = pg.locator('[data-testid="parsed-fields"]')
    assert "status" in fields.inner_text()
    pg.click('[data-testid="parsed-fields"] [data-field="status"] [data-testid="field-stats-toggle"]')
    stats = pg.locator('[data-testid="field-stats"]').inner_text()
    assert "40 of 40" in stats and "200" in stats and "80.0%" in stats
    shot(pg, "logs-checkout", full=True)
    # "+" on a field adds a parser stage and a label filter; the query runs again.
    pg.click('[data-testid="parsed-fields"] [data-field="status"] [data-testid="filter-for"]')
    _done(pg, "logs")
    assert pg.locator('[data-testid="query-input"]').input_value() == '{app="checkout"} | json | status="200"'
    assert pg.locator(".log-line").count() == 32
    assert "status" in urllib.parse.parse_qs(urllib.parse.urlparse(pg.url).query)["q"][0]  # state in the URL
    assert log.errors == []


def test_line_filter_logfmt_and_label_browser(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(_logs(server, '{app="cart"} |= "timeout"'))
    _done(pg, "logs")
    assert pg.locator(".log-line").count() == 3
    pg.locator(".log-line").first.click()
    assert "logfmt fields" in pg.locator('[data-testid="log-fields"]').inner_text()
    # The label browser builds the selector from values the API lists.
    pg.goto(f"{server}/logs?from=now-15m&to=now")
    pg.click('[data-label="app"] summary')
    pg.click('[data-label="app"] .lval[data-value="cart"]')
    _done(pg, "logs")
    assert pg.locator('[data-testid="query-input"]').input_value() == '{app="cart"}'
    assert pg.locator(".log-line").count() == 30
    # Other labels' values are narrowed to the streams chosen so far.
    pg.click('[data-label="pod"] summary')
    pg.wait_for_selector('[data-label="pod"] .lval')
    assert pg.eval_on_selector_all('[data-label="pod"] .lval', "els => els.map(e => e.dataset.value)") == ["cart-1"]
    pg.click('[data-label="app"] .lval[data-value="checkout"]')
    _done(pg, "logs")
    assert pg.locator('[data-testid="query-input"]').input_value() == '{app=~"cart|checkout"}'
    assert pg.locator(".log-line").count() == 70
    pg.wait_for_selector('[data-label="pod"] .lval[data-value="checkout-1"]')
    shot(pg, "logs-label-browser")
    assert log.errors == []


def test_oldest_first_and_paging(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(_logs(server, '{app="paging"}'))
    _done(pg, "logs")
    assert pg.locator(".log-line").count() == 100
    assert pg.locator(".log-line .msg").first.inner_text() == "page line 149"
    pg.click('[data-testid="logs-more"]')
    pg.wait_for_function("document.querySelectorAll('.log-line').length === 150")
    assert pg.locator(".log-line .msg").last.inner_text() == "page line 0"
    pg.click('[data-dir="forward"]')
    _done(pg, "logs")
    assert "dir=forward" in pg.url
    assert pg.locator(".log-line .msg").first.inner_text() == "page line 0"
    assert log.errors == []


def test_live_tail_shows_new_lines_and_pauses(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(_logs(server, '{app="live"}'))
    _done(pg, "logs")
    pg.click('[data-testid="live"]')
    pg.wait_for_selector('[data-page="logs"][data-live="on"]')
    assert "live=1" in pg.url
    push_logs(server, [{"stream": {"app": "live"}, "values": [[str(time.time_ns()), "level=warn msg=first-live-line"]]}])
    pg.wait_for_selector('.log-line:has-text("first-live-line")')
    assert pg.locator('.log-line:has-text("first-live-line")').get_attribute("data-level") == "warn"
    pg.click('[data-testid="live-pause"]')
    push_logs(server, [{"stream": {"app": "live"}, "values": [[str(time.time_ns()), "second-live-line"]]}])
    pg.wait_for_selector('[data-testid="live-status"]:has-text("1 new line")')
    assert pg.locator('.log-line:has-text("second-live-line")').count() == 0
    pg.click('[data-testid="live-pause"]')  # resume
    pg.wait_for_selector('.log-line:has-text("second-live-line")')
    assert pg.locator(".log-line .msg").first.inner_text() == "second-live-line"
    shot(pg, "logs-live")
    pg.click('[data-testid="live"]')  # stop
    pg.wait_for_selector('[data-page="logs"][data-live="off"]')
    assert log.errors == []


def test_metrics_to_logs_and_back(server: str, page: tuple) -> None:
    pg, log = page
    q = 'up{job="pharos"}'
    pg.goto(f"{server}/explore?" + urllib.parse.urlencode({"q": q, "from": "now-5m", "to": "now"}))
    _done(pg, "explore")
    pg.click(".legend-link")
    pg.wait_for_url("**/logs?**")
    _done(pg, "logs")
    query = pg.locator('[data-testid="query-input"]').input_value()
    assert query.startswith('{job="pharos", instance="127.0.0.1:')
    assert pg.locator(".log-line").count() == 10
    # From the log stream to the same job's metrics.
    pg.click('[data-testid="stream-metrics-link"]')
    pg.wait_for_url("**/explore?**")
    _done(pg, "explore")
    assert pg.locator('[data-testid="query-input"]').input_value().startswith('{job="pharos", instance="127.0.0.1:')
    assert pg.locator('[data-testid="result-table"] tbody tr').count() > 10
    # A pod's stream links to the pod's metrics query.
    pg.goto(_logs(server, '{app="checkout"}'))
    _done(pg, "logs")
    href = pg.locator('[data-testid="stream-metrics-link"]').first.get_attribute("href")
    assert urllib.parse.parse_qs(urllib.parse.urlparse(href).query)["q"] == ['{namespace="shop", pod="checkout-1"}']
    assert log.errors == []


def _firing(server: str) -> bool:
    alerts = get_json(f"{server}/api/v2/alerts")
    return any(a["labels"].get("alertname") == "WebTestAlways" for a in alerts)  # type: ignore[union-attr]


def test_alerts_grouped_and_silence_created_from_an_alert(server: str, page: tuple) -> None:
    pg, log = page
    wait_until(lambda: _firing(server))
    pg.goto(f"{server}/alerts")
    _done(pg, "alerts")
    card = pg.locator('[data-testid="alert"][data-alertname="WebTestAlways"]')
    assert "always firing" in card.inner_text() and 'team="web"' in card.inner_text()
    assert pg.locator('[data-testid="alert-group"]').count() >= 1
    assert pg.locator('[data-testid="pending-alert"][data-alertname="WebTestPending"]').count() == 1
    shot(pg, "alerts")
    card.locator('[data-testid="silence-alert"]').click()
    pg.wait_for_selector('[data-testid="silence-editor"]')
    names = pg.eval_on_selector_all(".matcher-row .m-name", "els => els.map(e => e.value)")
    assert names == ["alertname", "severity", "team"]
    pg.wait_for_selector('[data-testid="silence-preview"]:has-text("1 alert")')
    pg.fill('[data-testid="silence-author"]', "web-test")
    pg.fill('[data-testid="silence-comment"]', "silenced from the UI")
    shot(pg, "silence-editor")
    pg.click('[data-testid="silence-save"]')
    pg.wait_for_selector('[data-testid="silence-editor"]', state="detached")
    sid = pg.wait_for_selector('[data-page="silences"][data-saved]').get_attribute("data-saved")
    silences = get_json(f"{server}/api/v2/silences")
    mine = [s for s in silences if s["id"] == sid]  # type: ignore[union-attr,index]
    assert mine and mine[0]["comment"] == "silenced from the UI" and mine[0]["createdBy"] == "web-test"
    assert {"name": "alertname", "value": "WebTestAlways", "isRegex": False, "isEqual": True} in mine[0]["matchers"]
    assert mine[0]["status"]["state"] == "active"
    pg.wait_for_selector(f'[data-testid="silence"][data-silence-id="{sid}"]')
    shot(pg, "silences")
    # Edit: the comment changes through the API.
    pg.click(f'[data-silence-id="{sid}"] [data-testid="silence-edit"]')
    pg.fill('[data-testid="silence-comment"]', "edited in the UI")
    pg.click('[data-testid="silence-save"]')
    pg.wait_for_selector('[data-testid="silence-editor"]', state="detached")
    wait_until(lambda: any(s["comment"] == "edited in the UI" and s["status"]["state"] == "active" for s in get_json(f"{server}/api/v2/silences")))  # type: ignore[union-attr,index]
    # The alert now shows as silenced (with the checkbox) and is gone from the default view.
    pg.goto(f"{server}/alerts?silenced=1")
    _done(pg, "alerts")
    assert "silenced" in pg.locator('[data-alertname="WebTestAlways"]').inner_text()
    # Expire (two clicks: Expire, Confirm expire).
    pg.goto(f"{server}/silences")
    _done(pg, "silences")
    active = pg.locator('[data-state="active"] [data-testid="silence"]')
    assert active.count() == 1
    active.locator('[data-testid="silence-expire"]').click()
    active.locator('[data-testid="silence-expire"]').click()
    wait_until(lambda: all(s["status"]["state"] == "expired" for s in get_json(f"{server}/api/v2/silences")))  # type: ignore[union-attr,index]
    pg.wait_for_selector('[data-state="active"] .empty')
    assert log.errors == []


def test_rules_show_health_state_and_last_evaluation(server: str, page: tuple) -> None:
    pg, log = page
    wait_until(lambda: _firing(server))
    pg.goto(f"{server}/rules")
    _done(pg, "rules")
    group = pg.locator('[data-testid="rule-group"][data-group="web-test"]')
    assert "every 1s" in group.inner_text()
    assert "never" not in group.locator("summary").inner_text()
    firing = group.locator('[data-rule="WebTestAlways"]')
    assert firing.locator('[data-testid="rule-state"]').inner_text() == "firing (1)"
    assert firing.locator('[data-testid="rule-health"]').inner_text() == "ok"
    assert group.locator('[data-rule="WebTestPending"] [data-testid="rule-state"]').inner_text() == "pending (1)"
    assert group.locator('[data-rule="job:up:sum"] [data-testid="rule-state"]').count() == 0
    pg.click('[data-type="recording"]')
    assert group.locator('[data-testid="rule"]').count() == 1
    shot(pg, "rules")
    assert log.errors == []


def test_status_shows_log_store_next_to_tsdb(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(f"{server}/status")
    pg.wait_for_selector('[data-page="status"][data-logs="done"]')
    card = pg.locator('[data-testid="logstore"]').inner_text()
    assert "Number of streams" in card
    streams = len(get_json(f"{server}/loki/api/v1/series?" + urllib.parse.urlencode({"match[]": '{app=~".+"}'}))["data"])  # type: ignore[index]
    assert streams >= 3
    assert "app=checkout" in pg.locator('[data-testid="status"]').inner_text()
    shot(pg, "status", full=True)
    assert log.errors == []
