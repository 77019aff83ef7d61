"""Anomaly, forecast and outlier monitors over PromQL (an in-memory querier, real engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from monitor_helpers import MIN, T0, Harness

from pharos.metrics.promql.memory import MemoryQuerier
from pharos.monitors.sources import QuerySources
from pharos.storage.logs import LogStore
from pharos.storage.logs.store import StreamWrite


def store_with(series: dict[str, np.ndarray], start: int, step: int = MIN) -> MemoryQuerier:
    """Series named `name{host=...}` from value arrays."""
    q = MemoryQuerier()
    for host, values in series.items():
        labels = (("__name__", "load"), ("host", host))
        q.add(labels, start + step * np.arange(len(values), dtype=np.int64), values)
    return q


def harness(q: MemoryQuerier) -> Harness:
    return Harness(QuerySources(lambda: q))


def test_anomaly_fraction_over_trigger_and_recovery_windows() -> None:
    rng = np.random.default_rng(7)
    n = 600
    values = 10 + rng.normal(0, 0.2, n)
    values[560:564] = 30  # a four-minute spike
    start = T0 - (n - 1) * MIN
    h = harness(store_with({"a": values}, start))
    h.now = start + 562 * MIN
    h.add(name="load-anomaly", type="anomaly", query="load", group_by=["host"],
          thresholds={"critical": 0.6},
          anomaly={"algorithm": "basic", "bounds": 3, "trigger_window": "5m", "recovery_window": "10m",
                   "step": "1m", "history": "6h"})
    h.step()  # at the spike's last point: 4 of the 5 points of the trigger window are anomalous
    group = h.manager.get("load-anomaly").groups[(("host", "a"),)]
    assert group.state.value == "ALERT" and group.value == 0.8
    h.step(5)  # the recovery window still holds anomalous points
    assert group.state.value == "ALERT"
    h.step(7)
    assert group.state.value == "OK"


def test_contextual_anomaly_monitor_alerts_on_a_new_pattern_and_recovers() -> None:
    rng = np.random.default_rng(8)
    n = 600
    values = 10 + rng.normal(0, 0.2, n)
    values[560:564] = 30
    start = T0 - (n - 1) * MIN
    h = harness(store_with({"a": values}, start))
    h.now = start + 562 * MIN
    anomaly = {"algorithm": "contextual", "bounds": 3, "trigger_window": "5m", "recovery_window": "10m"}
    h.add(name="novel", type="anomaly", query="load", thresholds={"critical": 0.2},
          anomaly=anomaly | {"step": "1m", "history": "6h"})
    h.step()
    assert h.manager.get("novel").groups[()].state.value == "ALERT"
    h.step(20)
    assert h.manager.get("novel").groups[()].state.value == "OK"


def test_forecast_crossing_within_the_horizon() -> None:
    n = 300
    start = T0 - (n - 1) * 5 * MIN
    used = np.linspace(50, 80, n)  # +30 over 25 h: crosses 100 about 16 h ahead
    h = harness(store_with({"a": used}, start, 5 * MIN))
    h.add(name="disk-full", type="forecast", query="load", group_by=["host"], thresholds={"critical": 100},
          forecast={"algorithm": "linear", "model": "reactive", "horizon": "1d", "step": "5m", "history": "1d"})
    h.add(name="disk-full-soon", type="forecast", query="load", thresholds={"critical": 100},
          forecast={"algorithm": "linear", "model": "reactive", "horizon": "2h", "step": "5m", "history": "1d"})
    h.now = T0 - MIN
    h.step()
    assert h.states("disk-full") == {(("host", "a"),): "ALERT"}
    assert h.state("disk-full-soon") == "OK"


def test_outlier_members_alert_per_group() -> None:
    rng = np.random.default_rng(3)
    n = 120
    hosts = {f"h{i}": 5 + rng.normal(0, 0.3, n) for i in range(12)}
    hosts["h7"] = hosts["h7"] + 8
    start = T0 - (n - 1) * MIN
    h = harness(store_with(hosts, start))
    h.add(name="odd-host", type="outlier", query="load", group_by=["host"],
          outlier={"algorithm": "mad", "window": "1h", "step": "1m"})
    h.now = T0 - MIN
    h.step()
    alerting = sorted(k[0][1] for k, s in h.states("odd-host").items() if s == "ALERT")
    assert alerting == ["h7"]
    assert [a.labels["host"] for a in h.firing()] == ["h7"]


def test_metric_monitor_over_promql_groups_by_label() -> None:
    q = MemoryQuerier()
    for host, job, v in (("a", "x", 1.0), ("a", "y", 7.0), ("b", "x", 2.0)):
        q.add((("__name__", "errors"), ("host", host), ("job", job)), np.array([T0]), np.array([v]))
    h = harness(q)
    h.now = T0
    h.add(name="errs", type="metric", query="errors", group_by=["host"], thresholds={"critical": 5})
    h.step(0.5)
    assert h.states("errs") == {(("host", "a"),): "ALERT", (("host", "b"),): "OK"}
    assert h.manager.get("errs").groups[(("host", "a"),)].value == 7.0


def test_query_errors_keep_the_states() -> None:
    q = MemoryQuerier()
    h = harness(q)
    h.add(name="bad", type="metric", query='label_replace(up, "x", "$1", "job", "(")', thresholds={"critical": 1})
    h.step()
    assert "query failed" in h.manager.get("bad").error


def test_log_monitor_over_the_log_store(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs")
    store.open()
    try:
        ns = 1_000_000
        ts = (T0 - np.arange(12, dtype=np.int64)[::-1] * 10_000) * ns
        lines = [f"level=error n={i}" if i % 2 else f"level=info n={i}" for i in range(12)]
        store.append("fake", [StreamWrite({"app": "api", "pod": "p1"}, ts, lines)])
        h = Harness(QuerySources(MemoryQuerier, lambda: store))
        h.now = T0
        h.add(name="api-errors", type="log", query='sum by (app) (count_over_time({app="api"} |= "error" [5m]))',
              group_by=["app"], thresholds={"critical": 5, "warning": 3})
        h.step(0.5)
        group = h.manager.get("api-errors").groups[(("app", "api"),)]
        assert group.value == 6 and group.state.value == "ALERT"
    finally:
        store.close()
