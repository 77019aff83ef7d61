"""LogQL rules (Loki's ruler format, groups marked `source: logs`): loading and validation,
evaluation per tenant against a real log store with pushed lines (recording results in the
TSDB, alerts through the state machine and the notifier), and a real server fed over
`/loki/api/v1/push`."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from pharos_testproc import PharosProcess, wait_for

from pharos.logs import push as pushmod
from pharos.logs.limits import LimitsConfig, RateLimiter
from pharos.metrics.model import Matcher, MatchOp
from pharos.metrics.tsdb.db import TSDB, TSDBOptions
from pharos.rules.group import GroupOptions
from pharos.rules.logrules import LogRuleStorage
from pharos.rules.manager import ManualClock, RuleManager
from pharos.rules.rule import Alert, AlertState, Health
from pharos.rules.rulefile import RuleFileError, parse_rule_text
from pharos.rules.storage import TSDBStorage
from pharos.storage.logs import LogStore, StoreOptions

LOG_RULES = """groups:
  - name: app-logs
    source: logs
    interval: 1m
    rules:
      - record: app:error_lines:count1m
        expr: sum by (app) (count_over_time({app=~".+"} |= "error" [1m]))
      - alert: ManyErrors
        expr: sum by (app) (count_over_time({app=~".+"} |= "error" [1m])) > 2
        for: 2m
        labels: {severity: page}
        annotations:
          summary: '{{ $labels.app }} logged {{ $value }} errors'
  - name: team-a-logs
    source: logs
    tenant: team-a
    interval: 1m
    rules:
      - record: app:lines:count1m
        expr: sum by (app) (count_over_time({app=~".+"}[1m]))
"""
MIN = 60_000
NS_MS = 1_000_000


# -- loading ------------------------------------------------------------------------------------
def test_log_groups_load_with_tenant_and_logql_nodes() -> None:
    a, b = parse_rule_text(LOG_RULES, "logs.yml")
    assert (a.source, a.tenant, b.tenant) == ("logs", "fake", "team-a")
    assert a.is_logs and b.is_logs
    assert all(r.node is not None for r in a.rules + b.rules)


@pytest.mark.parametrize(("edit", "fragment"), [
    (("source: logs\n    interval", "source: traces\n    interval"),
     '3:13: group "app-logs": invalid source "traces"'),
    (("tenant: team-a", "tenant: 'a/b'"), '16:13: group "team-a-logs": tenant ID \'a/b\''),
    (('|= "error" [1m])) > 2', '|= "error" [1m] > 2'), 'rule 2, "ManyErrors": could not parse expression: '
     "parse error at line 1"),
    (('sum by (app) (count_over_time({app=~".+"}[1m]))', "'{app=\"x\"}'"),
     "could not parse expression: a rule needs a LogQL metric query, not a log query"),
])
def test_bad_log_groups_are_refused_with_position(edit: tuple[str, str], fragment: str) -> None:
    with pytest.raises(RuleFileError) as err:
        parse_rule_text(LOG_RULES.replace(*edit), "logs.yml")
    assert fragment in str(err.value)


def test_logql_is_not_accepted_as_promql_and_tenant_needs_logs() -> None:
    text = LOG_RULES.replace("    source: logs\n    interval", "    interval", 1)
    with pytest.raises(RuleFileError, match='rule 1, "app:error_lines:count1m": could not parse expression'):
        parse_rule_text(text, "logs.yml")
    metric = "groups:\n  - name: m\n    tenant: x\n    rules:\n      - record: a\n        expr: up\n"
    with pytest.raises(RuleFileError, match="tenant is only valid in a group with source: logs"):
        parse_rule_text(metric, "m.yml")


# -- evaluation on a manual clock over a real log store --------------------------------------------
class Env:
    """A log store and a TSDB in tmp_path, and a rule manager on a manual clock."""

    def __init__(self, tmp: Path) -> None:
        self.store = LogStore(tmp / "logs", StoreOptions())
        self.store.open()
        self.tsdb = TSDB(tmp / "tsdb", TSDBOptions(wal_fsync_interval_s=60))
        self.tsdb.open()
        self.now_ms = time.time_ns() // NS_MS // MIN * MIN
        self.clock = ManualClock(self.now_ms)
        self.sent: list[Alert] = []
        self.manager = RuleManager(
            TSDBStorage(self.tsdb), self.clock, lambda _expr, alerts: self.sent.extend(alerts),
            run_in_thread=False,
            log_storage=lambda sink, tenant: LogRuleStorage(sink, tenant, lambda: self.store),
        )

    def push(self, tenant: str, app: str, lines: list[tuple[int, str]]) -> None:
        doc = {"streams": [{"stream": {"app": app},
                            "values": [[str(t * NS_MS), line] for t, line in lines]}]}
        streams = pushmod.decode_push(orjson.dumps(doc), "application/json")
        res = pushmod.push(self.store, LimitsConfig(), RateLimiter(), tenant, streams)
        assert not res.errors

    def series(self, name: str) -> dict[str, list[float]]:
        got = self.tsdb.select([Matcher("__name__", MatchOp.EQUAL, name)], 0, 2**62)
        return {dict(s.labels).get("app", ""): s.values.tolist() for s in got}

    def close(self) -> None:
        self.tsdb.close()
        self.store.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = Env(tmp_path)
    yield e
    e.close()


async def test_log_rules_record_and_alert_per_tenant(env: Env) -> None:
    await env.manager.update(parse_rule_text(LOG_RULES, "logs.yml"), GroupOptions())
    try:
        groups = {g.name: g for g in env.manager.groups.values()}
        t0 = env.now_ms - 3 * MIN
        errors = [(t0 - 50_000 + i * 1000, f"error {i}") for i in range(4)]
        env.push("fake", "api", [*errors, (t0 - 1000, "ok")])
        env.push("fake", "web", [(t0 - 2000, "error once")])
        env.push("team-a", "api", [(t0 - 3000, "error in team a"), (t0 - 2000, "fine")])
        for g in groups.values():
            await env.manager.evaluate(g, t0)
            g.restore_for_state(t0, env.manager.storage)  # as the manager does after a start
        assert env.series("app:error_lines:count1m") == {"api": [4.0], "web": [1.0]}
        assert env.series("app:lines:count1m") == {"api": [2.0]}  # team-a's lines only
        rule = groups["app-logs"].rules[1]
        assert [a.state for a in rule.active.values()] == [AlertState.PENDING]  # type: ignore[union-attr]

        for k in (1, 2):  # the errors go on; `for: 2m` passes
            env.push("fake", "api", [(t0 + k * MIN - 10_000 + i, "error again") for i in range(3)])
            await env.manager.evaluate(groups["app-logs"], t0 + k * MIN)
        (alert,) = rule.active.values()  # type: ignore[union-attr]
        assert alert.state == AlertState.FIRING and rule.status.health == Health.OK
        assert [a.labels for a in env.sent] == [alert.labels]
        assert dict(alert.labels) == {"alertname": "ManyErrors", "app": "api", "severity": "page"}
        assert alert.annotations["summary"] == "api logged 3 errors"
        assert env.series("ALERTS")["api"][-1] == 1.0

        await env.manager.evaluate(groups["app-logs"], t0 + 3 * MIN)  # no new errors: resolved
        assert alert.state == AlertState.INACTIVE and env.sent[-1].resolved_at == t0 + 3 * MIN
    finally:
        await env.manager.stop()


async def test_log_rule_without_store_reports_error_health(env: Env) -> None:
    manager = RuleManager(TSDBStorage(env.tsdb), env.clock, run_in_thread=False)
    await manager.update(parse_rule_text(LOG_RULES, "logs.yml"), GroupOptions())
    try:
        g = next(iter(manager.groups.values()))
        await manager.evaluate(g, env.now_ms)
        assert g.rules[0].status.health == Health.ERR
        assert "log store is not open" in g.rules[0].status.last_error
    finally:
        await manager.stop()


# -- a real server --------------------------------------------------------------------------------
def test_server_evaluates_log_rules_on_pushed_lines(tmp_path: Path) -> None:
    rules = tmp_path / "logs.yml"
    rules.write_text(LOG_RULES.replace("interval: 1m", "interval: 1s").replace("for: 2m", "for: 0s"))
    cfg = tmp_path / "pharos.yml"
    cfg.write_text(f"rule_files: ['{rules}']\n")
    proc = PharosProcess(tmp_path, "server", ("--config", str(cfg)))
    try:
        proc.wait_ready()
        now = time.time_ns()
        for tenant, app in (("fake", "api"), ("team-a", "billing")):
            body = {"streams": [{"stream": {"app": app},
                                 "values": [[str(now - i * 10**8), f"error {i}"] for i in range(5)]}]}
            r = httpx.post(f"{proc.url}/loki/api/v1/push", json=body, headers={"X-Scope-OrgID": tenant})
            assert r.status_code == 204, r.text

        def recorded() -> dict[str, str]:
            res = proc.client.get("/api/v1/query", params={"query": "app:error_lines:count1m or app:lines:count1m"})
            return {f'{m["metric"]["__name__"]}/{m["metric"]["app"]}': m["value"][1]
                    for m in res.json()["data"]["result"]}

        wait_for(lambda: len(recorded()) == 2, what="both tenants' recording rules")
        assert recorded() == {"app:error_lines:count1m/api": "5", "app:lines:count1m/billing": "5"}

        def firing() -> list[dict[str, str]]:
            alerts = proc.client.get("/api/v1/alerts").json()["data"]["alerts"]
            return [a["labels"] for a in alerts if a["state"] == "firing"]

        wait_for(firing, what="the log alert to fire")
        assert firing()[0]["app"] == "api"
        groups = proc.client.get("/api/v1/rules").json()["data"]["groups"]
        assert {g["name"] for g in groups} == {"app-logs", "team-a-logs"}
        assert all(r["health"] == "ok" for g in groups for r in g["rules"])
        metrics = proc.client.get("/metrics").text
        assert f'prometheus_rule_group_rules{{rule_group="{rules};app-logs"}} 2.0' in metrics
    finally:
        assert proc.stop() == 0
