"""The UI in headless chromium against a real pharos: pages, Explore, dashboards import."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from shared_data import SHARED

from .conftest import shot

DASHBOARDS = SHARED / "dashboards"
PAGES = ["explore", "logs", "dashboards", "targets", "status", "alerts", "silences", "rules", "monitors"]


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_without_console_errors(server: str, page: tuple, name: str) -> None:
    pg, log = page
    pg.goto(f"{server}/{name}")
    pg.wait_for_load_state("networkidle")
    assert pg.locator(f'[data-page="{name}"]').count() == 1
    shot(pg, f"page-{name}")
    assert log.errors == []


def test_theme_toggle_persists(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(f"{server}/explore")
    before = pg.evaluate("document.documentElement.dataset.theme")
    pg.click('[data-testid="theme-toggle"]')
    after = pg.evaluate("document.documentElement.dataset.theme")
    assert {before, after} == {"light", "dark"}
    pg.reload()
    assert pg.evaluate("document.documentElement.dataset.theme") == after
    assert log.errors == []


def _range_series(server: str, query: str) -> int:
    url = f"{server}/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=10) as r:
        return len(json.loads(r.read())["data"]["result"])


def test_promql_query_draws_expected_series(server: str, page: tuple) -> None:
    pg, log = page
    query = '{__name__=~"up|pharos_ready|pharos_samples_scraped_total"}'
    expected = _range_series(server, query)
    assert expected >= 2
    pg.goto(f"{server}/explore?" + urllib.parse.urlencode({"q": query, "from": "now-5m", "to": "now"}))
    pg.wait_for_selector('[data-page="explore"][data-state="done"]')
    drawn = pg.evaluate("window.__pharos.charts.explore.uplot.series.length - 1")
    assert drawn == expected
    assert pg.evaluate("window.__pharos.charts.explore.points") > 0
    # The link reproduces the view; stacked mode and the table view draw the same series.
    pg.click('[data-mode="stacked"]')
    assert "mode=stacked" in pg.url
    assert pg.evaluate("window.__pharos.charts.explore.mode") == "stacked"
    shot(pg, "explore-graph")
    pg.click('[data-tab="table"]')
    pg.wait_for_selector('[data-page="explore"][data-state="done"]')
    assert pg.locator('[data-testid="result-table"] tbody tr').count() == expected
    # Legend toggling hides a series.
    pg.click('[data-tab="graph"]')
    pg.wait_for_selector('[data-page="explore"][data-state="done"]')
    pg.locator(".legend-item").first.click()
    assert pg.evaluate("window.__pharos.charts.explore.uplot.series[1].show") is False
    assert log.errors == []


def test_shift_enter_runs_and_errors_show_the_api_message(server: str, page: tuple, browser: object) -> None:
    pg, _ = page
    pg.goto(f"{server}/explore")
    box = pg.locator('[data-testid="query-input"]')
    box.fill("sum(rate(up[5m])")
    box.press("Shift+Enter")
    pg.wait_for_selector('[data-page="explore"][data-state="error"]')
    err = pg.locator('[data-testid="query-error"]').inner_text()
    assert "unclosed left parenthesis" in err
    assert "^" in err  # drawn at its position


def test_completion_of_metric_names_labels_and_values(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(f"{server}/explore")
    box = pg.locator('[data-testid="query-input"]')
    box.click()
    box.press_sequentially("pharos_tsdb_head_se")
    pg.wait_for_selector('[data-testid="completions"] li')
    assert "pharos_tsdb_head_series" in pg.locator('[data-testid="completions"]').inner_text()
    box.press("Tab")
    assert box.input_value() == "pharos_tsdb_head_series"
    box.press_sequentially('{jo')
    pg.wait_for_selector('[data-testid="completions"] li:has-text("job")')
    box.press("Tab")
    box.press_sequentially('="')
    pg.wait_for_selector('[data-testid="completions"] li:has-text("pharos")')
    assert log.errors == []


def _expand_rows_and_wait(pg: object) -> dict[str, int]:
    while True:
        collapsed = pg.locator('.dash-row[data-collapsed="true"]')  # type: ignore[attr-defined]
        if collapsed.count() == 0:
            break
        collapsed.first.click()
    pg.wait_for_selector('[data-page="dashboards"][data-state="done"]', timeout=60_000)  # type: ignore[attr-defined]
    pg.wait_for_function(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('.panel')].every(p => p.dataset.state !== 'loading')", timeout=60_000
    )
    states = pg.evaluate(  # type: ignore[attr-defined]
        "() => [...document.querySelectorAll('.panel')].map(p => [p.querySelector('.panel-title').textContent, p.dataset.state, p.innerText.slice(0, 200)])"
    )
    errors = [s for s in states if s[1] == "error"]
    assert errors == [], errors
    counts: dict[str, int] = {}
    for _, state, _text in states:
        counts[state] = counts.get(state, 0) + 1
    return counts


@pytest.mark.parametrize("name", ["node-exporter-full", "k8s-views-global", "k8s-views-nodes"])
def test_import_shared_dashboard_renders_every_panel(server: str, page: tuple, name: str) -> None:
    pg, log = page
    pg.goto(f"{server}/dashboards")
    pg.click('[data-testid="import-dashboard"]')
    pg.set_input_files('[data-testid="import-file"]', str(DASHBOARDS / f"{name}.json"))
    pg.wait_for_function("document.querySelector('[data-testid=import-json]').value.length > 100")
    pg.check('[data-testid="import-overwrite"]')
    pg.click('[data-testid="import-submit"]')
    pg.wait_for_url("**/d/**")
    counts = _expand_rows_and_wait(pg)
    total = json.loads((DASHBOARDS / f"{name}.json").read_text())
    assert sum(counts.values()) >= 10, counts
    assert set(counts) <= {"data", "nodata"}, counts
    shot(pg, f"dashboard-{name}", full=True)
    assert log.errors == [], log.errors[:5]
    assert total  # the source file was read


def test_builtin_pharos_dashboard_has_data(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(f"{server}/d/pharos-self/pharos?from=now-5m&to=now")
    counts = _expand_rows_and_wait(pg)
    assert counts.get("data", 0) >= 8, counts
    shot(pg, "dashboard-pharos", full=True)
    assert log.errors == []


def test_targets_show_health_and_discovered_labels(server: str, page: tuple) -> None:
    pg, log = page
    pg.goto(f"{server}/targets")
    pg.wait_for_selector('[data-page="targets"][data-state="done"]')
    text = pg.locator('[data-testid="targets"]').inner_text()
    assert "pharos" in text and "UP" in text
    assert pg.locator("details.discovered").count() >= 1
    assert log.errors == []
