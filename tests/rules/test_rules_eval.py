"""Rule evaluation on a controllable clock: for/keep_firing_for, staleness, ALERTS series,
`for` state restore after a restart, limits and health, scheduling slots, the notifier queue,
and the server component against a TSDB."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from pharos.config.loader import parse_config
from pharos.metrics.model import Matcher, MatchOp, is_stale_marker, make_labels
from pharos.metrics.tsdb.db import TSDB, TSDBOptions
from pharos.rules.component import RulesComponent, builtin_alertmanagers
from pharos.rules.group import Group, GroupOptions, group_hash
from pharos.rules.manager import ManualClock, RuleManager
from pharos.rules.notifier import Notifier
from pharos.rules.rule import Alert, AlertState, Health
from pharos.rules.rulefile import parse_rule_text
from pharos.rules.storage import MemoryStorage, TSDBStorage

RULES = """groups:
  - name: g
    interval: 1m
    rules:
      - record: job:x:sum
        expr: sum by (job) (x)
      - alert: High
        expr: x > 1
        for: 20m
        keep_firing_for: 2m
        labels: {severity: page}
        annotations: {v: '{{ $value }}'}
"""
MIN = 60_000


def storage_with(values: dict[int, float], labels: dict[str, str] | None = None) -> MemoryStorage:
    st = MemoryStorage()
    ts = np.array(sorted(values), dtype=np.int64)
    st.store.add(make_labels({"__name__": "x", "job": "a", **(labels or {})}), ts,
                 np.array([values[t] for t in ts.tolist()]))
    return st


def group(text: str = RULES, restored: bool = True) -> Group:
    return Group(parse_rule_text(text, "rules.yml")[0], GroupOptions(), restored=restored)


def alert_rule(g: Group):  # type: ignore[no-untyped-def]
    return g.rules[1]


def test_pending_firing_keep_firing_inactive() -> None:
    st = storage_with({t * MIN: (2.0 if t <= 30 else 0.0) for t in range(60)})
    g = group()
    sent: list[list[Alert]] = []
    states = {}
    for t in range(0, 40):
        g.eval(t * MIN, st, lambda expr, alerts: sent.append(alerts))
        states[t] = alert_rule(g).firing_state()
    assert states[19] == AlertState.PENDING and states[20] == AlertState.FIRING
    assert states[32] == AlertState.FIRING  # keep_firing_for 2m after x dropped at 31m
    assert states[33] == AlertState.INACTIVE
    firing = [a for batch in sent for a in batch]
    assert firing[0].state == AlertState.FIRING and firing[0].fired_at == 20 * MIN
    resolved = [a for a in firing if a.resolved_at]
    assert resolved and resolved[0].resolved_at == 33 * MIN


def test_alerts_series_and_staleness() -> None:
    st = storage_with({t * MIN: 2.0 for t in range(5)})
    g = group()
    for t in range(0, 8):
        g.eval(t * MIN, st, None)
    alerts = st.store.select([Matcher("__name__", MatchOp.EQUAL, "ALERTS")], 0, 10 * MIN)
    (series,) = alerts
    assert dict(series.labels) == {"__name__": "ALERTS", "alertname": "High", "alertstate": "pending",
                                   "job": "a", "severity": "page"}
    # x ends at 4m: lookback keeps it until 8m, so still pending at 7m
    recorded = st.store.select([Matcher("__name__", MatchOp.EQUAL, "job:x:sum")], 0, 10 * MIN)
    assert recorded and not is_stale_marker(float(recorded[0].values[-1]))
    for t in range(8, 10):
        g.eval(t * MIN, st, None)
    recorded = st.store.select([Matcher("__name__", MatchOp.EQUAL, "job:x:sum")], 0, 10 * MIN)
    assert is_stale_marker(float(recorded[0].values[-1]))
    for_state = st.store.select([Matcher("__name__", MatchOp.EQUAL, "ALERTS_FOR_STATE")], 0, 10 * MIN)
    assert for_state[0].values[0] == 0.0 and is_stale_marker(float(for_state[0].values[-1]))


def test_for_state_restored_after_restart() -> None:
    st = storage_with({t * MIN: 2.0 for t in range(120)})
    g = group()
    for t in range(0, 15):
        g.eval(t * MIN, st, None)  # pending since 0m, down at 14m
    assert alert_rule(g).firing_state() == AlertState.PENDING
    restarted = group(restored=False)
    restarted.eval(40 * MIN, st, None)
    assert not st.store.select([Matcher("__name__", MatchOp.EQUAL, "ALERTS"),
                                Matcher("alertstate", MatchOp.EQUAL, "firing")], 0, 100 * MIN)
    restarted.restore_for_state(40 * MIN, st)
    (a,) = alert_rule(restarted).active.values()
    # 14m spent pending, 6m remaining (< 10m grace): fires 10m after the restore
    assert a.active_at == 40 * MIN + 10 * MIN - 20 * MIN
    restarted.eval(49 * MIN, st, None)
    assert alert_rule(restarted).firing_state() == AlertState.PENDING
    restarted.eval(50 * MIN, st, None)
    assert alert_rule(restarted).firing_state() == AlertState.FIRING


def test_limit_and_same_labelset_errors_set_health() -> None:
    text = """groups:
  - name: g
    limit: 1
    rules:
      - record: r
        expr: x
      - alert: A
        expr: label_replace(x, "job", "same", "", "")
"""
    st = storage_with({0: 1.0})
    st.store.add(make_labels({"__name__": "x", "job": "b"}), np.array([0]), np.array([1.0]))
    g = group(text)
    g.eval(0, st, None)
    rec, alert = g.rules
    assert rec.status.health == Health.ERR and "exceeded limit of 1 with 2 series" in rec.status.last_error
    assert alert.status.health == Health.ERR and "same labelset" in alert.status.last_error


def test_eval_timestamp_offset_is_stable() -> None:
    g = group()
    t0 = g.eval_timestamp(1_700_000_000_000)
    assert t0 <= 1_700_000_000_000 < t0 + MIN
    offset_ns = group_hash("rules.yml", "g") % (MIN * 1_000_000)
    assert t0 % MIN == offset_ns // 1_000_000  # Prometheus's slot, in ms
    assert g.eval_timestamp(t0 + 5 * MIN + 1) == t0 + 5 * MIN


def test_notifier_queue_is_bounded_and_relabels() -> None:
    cfg = parse_config("""alerting:
  alert_relabel_configs:
    - {action: drop, source_labels: [severity], regex: none}
  alertmanagers: [{static_configs: [{targets: ['127.0.0.1:1']}], path_prefix: /am}]
global: {external_labels: {cluster: c1, job: ignored}}
""").config
    n = Notifier(capacity=3)
    n.configure(cfg.alerting, cfg.global_.external_labels, "http://pharos")
    assert n.endpoints[0].url == "http://127.0.0.1:1/am/api/v2/alerts"
    alerts = [Alert(make_labels({"alertname": "A", "job": "j", "i": str(i)}), {}, 1.0, 0,
                    AlertState.FIRING, fired_at=1000) for i in range(5)]
    alerts.append(Alert(make_labels({"alertname": "B", "severity": "none"}), {}, 1.0, 0, AlertState.FIRING))
    n.send("x > 1", alerts)
    assert n.pending() == 3 and n.dropped == 2
    doc = n.queue[-1]
    assert doc["labels"] == {"alertname": "A", "cluster": "c1", "i": "4", "job": "j"}
    assert doc["generatorURL"] == "http://pharos/graph?g0.expr=x+%3E+1&g0.tab=1"


async def test_manager_on_manual_clock_resends_and_resolves() -> None:
    clock = ManualClock(0)
    st = storage_with({t * MIN: (2.0 if t < 30 else 0.0) for t in range(40)})
    sent: list[tuple[int, Alert]] = []
    mgr = RuleManager(st, clock, lambda e, alerts: sent.extend((a.last_sent_at, a) for a in alerts),
                      run_in_thread=False)
    text = RULES.replace("for: 20m", "for: 0s").replace("keep_firing_for: 2m", "keep_firing_for: 0s")
    await mgr.update(parse_rule_text(text, "rules.yml"), GroupOptions())
    (g,) = mgr.groups.values()
    for t in range(0, 40 * MIN, 10_000):
        clock.set(t)
        for _ in range(3):
            await asyncio.sleep(0)
    await mgr.stop()
    offset = g.eval_timestamp(0) % MIN
    firing = [t for t, a in sent if not a.resolved_at]
    resolved = [a for _, a in sent if a.resolved_at]
    assert firing[0] == offset + MIN  # the first evaluation slot
    assert all(b - a == 2 * MIN for a, b in itertools.pairwise(firing))  # resend after 1m
    assert resolved and resolved[0].resolved_at == 30 * MIN + offset


async def test_component_on_tsdb_reload_and_bad_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules" / "r.yml"
    rules.parent.mkdir()
    rules.write_text(RULES)
    cfg_path = tmp_path / "pharos.yml"
    cfg_path.write_text("rule_files: ['rules/*.yml']\n")
    loaded = parse_config(cfg_path.read_text(), filename=str(cfg_path))
    loaded.path = cfg_path
    tsdb = TSDB(tmp_path / "data", TSDBOptions(wal_fsync_interval_s=60))
    tsdb.open()
    runtime = SimpleNamespace(tsdb=tsdb, loaded=loaded, components=[],
                              opts=SimpleNamespace(url="http://127.0.0.1:9494"))
    clock = ManualClock(1_700_000_000_000)
    comp = RulesComponent(runtime, clock)
    await comp.start(runtime)  # type: ignore[arg-type]
    try:
        assert comp.manager is not None and len(comp.manager.groups) == 1
        rules.write_text(RULES.replace("expr: x > 1", "expr: x >"))
        with pytest.raises(Exception, match="could not parse expression"):
            await comp.apply_config(loaded)
        assert len(comp.manager.groups) == 1  # the running rules stay
        st = TSDBStorage(tsdb)
        st.append([(make_labels({"__name__": "x", "job": "a"}), 3.0)], clock.now_ms())
        (g,) = comp.manager.groups.values()
        await comp.manager.evaluate(g, clock.now_ms())
        got = tsdb.select([Matcher("__name__", MatchOp.EQUAL, "job:x:sum")], 0, 2**62)
        assert got and float(got[0].values[-1]) == 3.0
    finally:
        await comp.stop()
        tsdb.close()


def test_builtin_alertmanager_hook() -> None:
    loaded = parse_config("")
    runtime = SimpleNamespace(components=[SimpleNamespace(name="alertmanager")],
                              opts=SimpleNamespace(url="http://127.0.0.1:9494"))
    assert [e.url for e in builtin_alertmanagers(runtime, loaded)] == ["http://127.0.0.1:9494/api/v2/alerts"]
    with_alerting = parse_config("alerting: {alertmanagers: []}\n")
    assert builtin_alertmanagers(runtime, with_alerting) == []
    runtime.components = []
    assert builtin_alertmanagers(runtime, loaded) == []
