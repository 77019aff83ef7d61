"""Loki's ruler API (`/loki/api/v1/rules`, `/api/prom/rules`, `/prometheus/api/v1/{rules,alerts}`)
on a rules component in-process: requests shaped as `lokitool rules sync|load` (yaml.v3 bodies,
`url.PathEscape`d names, no Content-Type) and Grafana's Loki ruler calls send them; validation,
tenants, safe file names, persistence across a restart, and evaluation of an API-created group
over a real log store on a manual clock."""

from __future__ import annotations

import string
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import httpx
import orjson
import pytest
import yaml
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from pharos.config.loader import parse_config
from pharos.logs import push as pushmod
from pharos.logs.limits import LimitsConfig, RateLimiter
from pharos.metrics.model import Matcher, MatchOp
from pharos.metrics.tsdb.db import TSDB, TSDBOptions
from pharos.rules.component import RULER_DIR, RulesComponent
from pharos.rules.lokiruler import label_pairs
from pharos.rules.lokistore import RulerError, decode_group, decode_name, encode_name, group_defs, group_node
from pharos.rules.manager import ManualClock
from pharos.storage.logs import LogStore, StoreOptions

MIN = 60_000
NS_MS = 1_000_000
# What `lokitool rules sync` sends for one group: yaml.v3's Marshal of rwrulefmt.RuleGroup.
LOKITOOL_GROUP = """name: app-errors
interval: 1m
rules:
    - alert: ManyErrors
      expr: sum by (app) (count_over_time({app=~".+"} |= "error" [1m])) > 2
      for: 2m
      labels:
        severity: page
      annotations:
        summary: '{{ $labels.app }} logged {{ $value }} errors'
    - record: app:error_lines:count1m
      expr: sum by (app) (count_over_time({app=~".+"} |= "error" [1m]))
"""
LOKITOOL_HEADERS = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}
FILE_RULES = """groups:
  - name: from-file
    source: logs
    rules:
      - record: file:lines:count1m
        expr: sum(count_over_time({app=~".+"}[1m]))
"""
# What Grafana's ruler proxy posts: yaml.v3's Marshal of a PostableRuleGroupConfig.
GRAFANA_GROUP = """name: grafana-group
interval: 1m
rules:
    - alert: NoLogs
      expr: sum(count_over_time({app="web"}[5m])) < 1
      for: 5m
      labels:
        team: web
      annotations:
        description: web is silent
"""
ACCEPTED = {"status": "success", "data": None, "errorType": "", "error": ""}


def org(tenant: str) -> dict[str, str]:
    """lokitool's headers for `--id tenant`."""
    return {**LOKITOOL_HEADERS, "X-Scope-OrgID": tenant}


class Server:
    """A rules component (with a log store as the "logs" component) on a FastAPI app."""

    def __init__(self, data: Path, config: str = "") -> None:
        self.data = data
        self.tsdb = TSDB(data / "tsdb", TSDBOptions(wal_fsync_interval_s=60))
        self.tsdb.open()
        self.store = LogStore(data / "logs", StoreOptions())
        self.store.open()
        self.clock = ManualClock(time.time_ns() // NS_MS // MIN * MIN)
        self.runtime = SimpleNamespace(
            tsdb=self.tsdb,
            loaded=parse_config(config),
            startup_error=None,
            components=[SimpleNamespace(name="logs", store=self.store)],
            opts=SimpleNamespace(url="http://127.0.0.1:9494", data_dir=data),
        )
        self.comp = RulesComponent(self.runtime, clock=self.clock)
        self.app = FastAPI()
        self.comp.register(self.app)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url="http://pharos")

    async def close(self) -> None:
        await self.client.aclose()
        await self.comp.stop()
        self.store.close()
        self.tsdb.close()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    s = Server(tmp_path)
    await s.comp.start(s.runtime)  # type: ignore[arg-type]
    yield s
    await s.close()


async def post(
    s: Server,
    namespace: str,
    body: str,
    tenant: str = "fake",
    prefix: str = "/loki/api/v1/rules",
) -> httpx.Response:
    """POST as lokitool does: url.PathEscape(namespace), the YAML body, no Content-Type."""
    return await s.client.post(
        f"{prefix}/{quote(namespace, safe='')}", content=body.encode(), headers=org(tenant)
    )


# -- names and bodies ------------------------------------------------------------------------------
@given(st.text(min_size=1, max_size=60))
def test_encoded_names_round_trip_and_are_one_safe_path_component(name: str) -> None:
    encoded = encode_name(name)
    assert decode_name(encoded) == name
    assert set(encoded) <= set(string.ascii_letters + string.digits + "%_-")
    assert "." not in encoded and "/" not in encoded


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name: [unclosed", "unable to decoded rule group: "),
        ("- just\n- a list\n", "unable to decoded rule group: the body must be one rule group"),
        ("name: g\nsource: metrics\nrules: []\n", 'group "g": source must be "logs"'),
        (
            "name: g\ntenant: other\nrules: []\n",
            'group "g": tenant "other" differs from the request\'s tenant "fake"',
        ),
        (
            'name: g\nrules:\n  - alert: A\n    expr: count_over_time({a="b"}[1m])\n    for: 5 minutes\n',
            'group "g", rule 1, "A": invalid for: not a valid duration string: "5 minutes"',
        ),
    ],
)
def test_bodies_that_are_refused_before_validation(body: str, message: str) -> None:
    with pytest.raises(RulerError) as err:
        decode_group(body.encode(), "fake")
    assert err.value.status == 400 and err.value.message.startswith(message)


# -- lokitool / cortextool -----------------------------------------------------------------------
async def test_lokitool_sync_cycle_create_list_get_replace_delete(server: Server) -> None:
    c = server.client
    empty = await c.get("/loki/api/v1/rules", headers=org("fake"))
    assert (empty.status_code, empty.text) == (404, "no rule groups found\n")  # lokitool: "no rules"

    r = await post(server, "team/api", LOKITOOL_GROUP)
    assert r.status_code == 202 and r.headers["content-type"] == "application/json"
    assert orjson.loads(r.content) == ACCEPTED
    second = LOKITOOL_GROUP.replace("app-errors", "app-volume").replace("interval: 1m", "interval: 120s")
    assert (await post(server, "team/api", second)).status_code == 202
    assert (await post(server, "other", second)).status_code == 202

    listing = await c.get("/loki/api/v1/rules", headers=org("fake"))
    assert listing.status_code == 200 and listing.headers["content-type"] == "application/yaml"
    doc = yaml.safe_load(listing.text)
    assert list(doc) == ["other", "team/api"]
    assert [g["name"] for g in doc["team/api"]] == ["app-errors", "app-volume"]
    assert doc["team/api"][1]["interval"] == "2m"  # durations come back as Prometheus prints them
    assert doc["team/api"][0] == {
        "name": "app-errors",
        "interval": "1m",
        "rules": [
            {
                "alert": "ManyErrors",
                "expr": 'sum by (app) (count_over_time({app=~".+"} |= "error" [1m])) > 2',
                "for": "2m",
                "labels": {"severity": "page"},
                "annotations": {"summary": "{{ $labels.app }} logged {{ $value }} errors"},
            },
            {
                "record": "app:error_lines:count1m",
                "expr": 'sum by (app) (count_over_time({app=~".+"} |= "error" [1m]))',
            },
        ],
    }
    one_ns = yaml.safe_load((await c.get("/loki/api/v1/rules/team%2Fapi", headers=org("fake"))).text)
    assert one_ns == {"team/api": doc["team/api"]}
    group = await c.get("/loki/api/v1/rules/team%2Fapi/app-errors", headers=org("fake"))
    assert group.headers["content-type"] == "application/yaml"
    assert yaml.safe_load(group.text) == doc["team/api"][0]

    replaced = LOKITOOL_GROUP.replace("for: 2m", "for: 10m")  # sync posts a changed group again
    assert (await post(server, "team/api", replaced)).status_code == 202
    got = yaml.safe_load((await c.get("/loki/api/v1/rules/team%2Fapi/app-errors", headers=org("fake"))).text)
    assert got["rules"][0]["for"] == "10m"
    assert len(yaml.safe_load((await c.get("/loki/api/v1/rules", headers=org("fake"))).text)["team/api"]) == 2

    deleted = await c.delete("/loki/api/v1/rules/team%2Fapi/app-volume", headers=org("fake"))
    assert deleted.status_code == 202 and orjson.loads(deleted.content) == ACCEPTED
    gone = await c.get("/loki/api/v1/rules/team%2Fapi/app-volume", headers=org("fake"))
    assert (gone.status_code, gone.text) == (404, "group does not exist\n")
    again = await c.delete("/loki/api/v1/rules/team%2Fapi/app-volume", headers=org("fake"))
    assert (again.status_code, again.text) == (404, "group does not exist\n")
    assert (await c.delete("/loki/api/v1/rules/team%2Fapi", headers=org("fake"))).status_code == 202
    missing = await c.delete("/loki/api/v1/rules/team%2Fapi", headers=org("fake"))
    assert (missing.status_code, missing.text) == (404, "group namespace does not exist\n")
    assert list(yaml.safe_load((await c.get("/loki/api/v1/rules", headers=org("fake"))).text)) == ["other"]
    assert {g.name for g in server.comp.manager.groups.values()} == {"app-volume"}  # type: ignore[union-attr]


async def test_invalid_groups_are_refused_naming_group_rule_and_problem(server: Server) -> None:
    bad = """name: broken
rules:
    - alert: Unclosed
      expr: sum(rate({app="a"}[1m]) > 1
    - record: not a metric name
      expr: sum(rate({app="a"}[1m]))
    - record: logs:only
      expr: '{app="a"} |= "x"'
"""
    r = await post(server, "ns", bad)
    assert r.status_code == 400 and r.headers["content-type"].startswith("text/plain")
    problems = r.text.rstrip("\n").split(', group "')
    assert problems[0].startswith(
        'group "broken", rule 1, "Unclosed": could not parse expression: parse error'
    )
    assert (
        problems[1] == 'broken", rule 2, "not a metric name": invalid recording rule name: not a metric name'
    )
    assert problems[2] == (
        'broken", rule 3, "logs:only": could not parse expression: '
        "a rule needs a LogQL metric query, not a log query"
    )
    no_name = await post(server, "ns", 'rules:\n  - record: a\n    expr: sum(rate({a="b"}[1m]))\n')
    assert (no_name.status_code, no_name.text) == (400, "Groupname must not be empty\n")
    interval = await post(server, "ns", LOKITOOL_GROUP.replace("interval: 1m", "interval: soon"))
    assert interval.text == 'group "app-errors": invalid interval: not a valid duration string: "soon"\n'
    assert (await server.client.get("/loki/api/v1/rules", headers=org("fake"))).status_code == 404
    assert server.comp.manager.groups == {}  # type: ignore[union-attr]


async def test_cortextool_legacy_paths_answer_the_same(server: Server) -> None:
    r = await post(server, "legacy", LOKITOOL_GROUP, prefix="/api/prom/rules")
    assert r.status_code == 202
    both = [
        await server.client.get(f"{p}/legacy/app-errors", headers=org("fake"))
        for p in ("/api/prom/rules", "/loki/api/v1/rules")
    ]
    assert both[0].text == both[1].text and yaml.safe_load(both[0].text)["name"] == "app-errors"
    assert (await server.client.delete("/api/prom/rules/legacy", headers=org("fake"))).status_code == 202


# -- Grafana -------------------------------------------------------------------------------------
async def test_grafana_ruler_calls_and_prometheus_views(server: Server) -> None:
    # Older Grafana front ends posted the group as JSON through the data source proxy; Grafana's
    # ruler proxy now posts yaml.Marshal(PostableRuleGroupConfig) to /api/prom/rules/<ns>. Both
    # decode (JSON is YAML) to the same group; the second post replaces the first.
    listings = []
    for content, content_type in (
        (orjson.dumps(yaml.safe_load(GRAFANA_GROUP)), "application/json"),
        (GRAFANA_GROUP.encode(), "application/yaml"),
    ):
        r = await server.client.post(
            "/api/prom/rules/Grafana%20folder",
            content=content,
            headers={"Content-Type": content_type, "X-Scope-OrgID": "fake"},
        )
        assert r.status_code == 202
        listings.append((await server.client.get("/api/prom/rules", headers={"X-Scope-OrgID": "fake"})).text)
    assert listings[0] == listings[1]
    assert yaml.safe_load(listings[0])["Grafana folder"][0]["rules"][0]["labels"] == {"team": "web"}

    rules = await server.client.get("/prometheus/api/v1/rules", headers={"X-Scope-OrgID": "fake"})
    assert rules.status_code == 200 and rules.headers["content-type"] == "application/json"
    doc = orjson.loads(rules.content)
    assert (doc["status"], doc["errorType"], doc["error"]) == ("success", "", "")
    (group,) = doc["data"]["groups"]
    assert {k: group[k] for k in ("name", "file", "interval", "limit")} == {
        "name": "grafana-group",
        "file": "Grafana folder",
        "interval": 60,
        "limit": 0,
    }
    (rule,) = group["rules"]
    assert list(rule) == [
        "state",
        "name",
        "query",
        "duration",
        "labels",
        "annotations",
        "alerts",
        "health",
        "lastError",
        "type",
        "lastEvaluation",
        "evaluationTime",
    ]
    assert (rule["state"], rule["duration"], rule["type"], rule["query"]) == (
        "inactive",
        300,
        "alerting",
        'sum(count_over_time({app="web"}[5m])) < 1',
    )
    for params, count in (
        ({"type": "record"}, 0),
        ({"type": "alert"}, 1),
        ({"rule_name[]": "Other"}, 0),
        ({"file": "Grafana folder"}, 1),
        ({"rule_group": "nope"}, 0),
    ):
        got = await server.client.get("/prometheus/api/v1/rules", params=params)
        assert len(got.json()["data"]["groups"]) == count, params
    bad = await server.client.get("/prometheus/api/v1/rules", params={"type": "both"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"
    alerts = await server.client.get("/prometheus/api/v1/alerts")
    assert alerts.json() == {"status": "success", "data": {"alerts": []}, "errorType": "", "error": ""}


# -- tenants and file names ----------------------------------------------------------------------
async def test_tenants_never_see_or_change_each_others_rules(server: Server) -> None:
    assert (await post(server, "shared-name", LOKITOOL_GROUP, tenant="team-a")).status_code == 202
    c = server.client
    for path in (
        "/loki/api/v1/rules",
        "/loki/api/v1/rules/shared-name",
        "/loki/api/v1/rules/shared-name/app-errors",
    ):
        assert (await c.get(path, headers=org("team-b"))).status_code == 404, path
        assert (await c.get(path, headers=org("team-a"))).status_code == 200, path
    assert (
        await c.delete("/loki/api/v1/rules/shared-name/app-errors", headers=org("team-b"))
    ).status_code == 404
    assert (await c.delete("/loki/api/v1/rules/shared-name", headers=org("team-b"))).status_code == 404
    b_views = await c.get("/prometheus/api/v1/rules", headers=org("team-b"))
    assert b_views.json()["data"]["groups"] == []
    # team-b's own group of the same namespace and name is a different group
    other = LOKITOOL_GROUP.replace("for: 2m", "for: 7m")
    assert (await post(server, "shared-name", other, tenant="team-b")).status_code == 202
    a_group = yaml.safe_load(
        (await c.get("/loki/api/v1/rules/shared-name/app-errors", headers=org("team-a"))).text
    )
    assert a_group["rules"][0]["for"] == "2m"
    tenants = {g.d.tenant for g in server.comp.manager.groups.values()}  # type: ignore[union-attr]
    assert tenants == {"team-a", "team-b"} and len(server.comp.manager.groups) == 2  # type: ignore[union-attr]
    bad_tenant = await c.get("/loki/api/v1/rules", headers={"X-Scope-OrgID": "../etc"})
    assert bad_tenant.status_code == 400 and "tenant ID" in bad_tenant.text


@pytest.mark.parametrize("namespace", ["../../escape", "a/b", "..", ".hidden", "100%", "ns\\..\\x", "名前"])
async def test_namespaces_never_become_paths_outside_the_ruler_directory(
    server: Server, namespace: str
) -> None:
    escaped = "".join(f"%{b:02X}" for b in namespace.encode())  # every byte, dots included
    r = await server.client.post(f"/loki/api/v1/rules/{escaped}", content=LOKITOOL_GROUP, headers=org("fake"))
    assert r.status_code == 202
    root = server.data / RULER_DIR
    files = [p for p in server.data.rglob("*") if p.is_file() and RULER_DIR in p.parts]
    assert len(files) == 1 and files[0].parent.parent == root
    assert set(files[0].name.removesuffix(".yaml")) <= set(string.ascii_letters + string.digits + "%_-")
    listing = yaml.safe_load((await server.client.get("/loki/api/v1/rules", headers=org("fake"))).text)
    assert list(listing) == [namespace]
    assert (
        await server.client.delete(f"/loki/api/v1/rules/{escaped}", headers=org("fake"))
    ).status_code == 202
    assert not any(p.is_file() for p in root.rglob("*"))


async def test_bad_paths_and_methods(server: Server) -> None:
    c = server.client
    assert (await c.get("/loki/api/v1/rules/%FF", headers=org("fake"))).status_code == 400
    assert (await c.get("/loki/api/v1/rules/a/b/c", headers=org("fake"))).status_code == 404
    assert (
        await c.post("/loki/api/v1/rules", content=LOKITOOL_GROUP, headers=org("fake"))
    ).status_code == 405
    assert (
        await c.post("/loki/api/v1/rules/ns/g", content=LOKITOOL_GROUP, headers=org("fake"))
    ).status_code == 405
    long = await post(server, "n" * 300, LOKITOOL_GROUP)
    assert long.status_code == 400 and "too long" in long.text


# -- rule files, persistence, evaluation ----------------------------------------------------------
async def test_rule_file_groups_are_read_only_and_keep_their_names(tmp_path: Path) -> None:
    rules = tmp_path / "logs.yml"
    rules.write_text(FILE_RULES)
    s = Server(tmp_path / "data", f"rule_files: ['{rules}']\n")
    await s.comp.start(s.runtime)  # type: ignore[arg-type]
    try:
        assert s.comp.manager is not None
        (file_group,) = s.comp.manager.groups.values()
        assert (await s.client.get("/loki/api/v1/rules", headers=org("fake"))).status_code == 404
        clash = await post(s, "ns", LOKITOOL_GROUP.replace("app-errors", "from-file"))
        assert clash.status_code == 400
        assert clash.text == (
            f'group "from-file": a log rule group of this name is already defined in the rule '
            f"file {rules}, which is read-only here (edit the file and reload)\n"
        )
        assert (
            await post(s, "ns", LOKITOOL_GROUP.replace("app-errors", "from-file"), tenant="x")
        ).status_code == 202
        assert (await post(s, "ns", LOKITOOL_GROUP)).status_code == 202
        groups = (await s.client.get("/prometheus/api/v1/rules")).json()["data"]["groups"]
        assert [(g["file"], g["name"]) for g in groups] == [(str(rules), "from-file"), ("ns", "app-errors")]
        assert s.comp.manager.groups[file_group.key] is file_group  # API writes leave it running as it was
        assert (await s.client.delete("/loki/api/v1/rules/ns", headers=org("fake"))).status_code == 202
        assert list(s.comp.manager.groups.values()).count(file_group) == 1 and len(s.comp.manager.groups) == 2
    finally:
        await s.close()


async def test_groups_survive_a_restart_and_follow_reloads(tmp_path: Path) -> None:
    first = Server(tmp_path)
    await first.comp.start(first.runtime)  # type: ignore[arg-type]
    assert (await post(first, "kept", LOKITOOL_GROUP, tenant="team-a")).status_code == 202
    before = (await first.client.get("/loki/api/v1/rules", headers=org("team-a"))).text
    await first.close()

    second = Server(tmp_path)
    await second.comp.start(second.runtime)  # type: ignore[arg-type]
    try:
        assert (await second.client.get("/loki/api/v1/rules", headers=org("team-a"))).text == before
        (group,) = second.comp.manager.groups.values()  # type: ignore[union-attr]
        assert (group.name, group.d.tenant, group.d.is_logs) == ("app-errors", "team-a", True)
        await second.comp.apply_config(parse_config("global: {evaluation_interval: 10s}\n"))
        (group,) = second.comp.manager.groups.values()  # type: ignore[union-attr]
        assert group.interval_ms == MIN  # its own interval; the group is still there after a reload
    finally:
        await second.close()


def push(s: Server, tenant: str, app: str, lines: list[tuple[int, str]]) -> None:
    """Push lines into the log store as /loki/api/v1/push does."""
    doc = {"streams": [{"stream": {"app": app}, "values": [[str(t * NS_MS), line] for t, line in lines]}]}
    streams = pushmod.decode_push(orjson.dumps(doc), "application/json")
    assert not pushmod.push(s.store, LimitsConfig(), RateLimiter(), tenant, streams).errors


async def test_api_group_records_and_alerts_like_a_rule_file_group(server: Server) -> None:
    sent: list[object] = []
    server.comp.manager.notify = lambda _expr, alerts: sent.extend(alerts)  # type: ignore[union-attr]
    assert (
        await post(server, "apps", LOKITOOL_GROUP.replace("for: 2m", "for: 0s"), tenant="team-a")
    ).status_code == 202
    (group,) = server.comp.manager.groups.values()  # type: ignore[union-attr]
    t = server.clock.now_ms()
    push(server, "team-a", "api", [(t - 30_000 + i, f"error {i}") for i in range(3)])
    push(server, "fake", "api", [(t - 30_000 + i, f"error {i}") for i in range(9)])  # another tenant's lines
    await server.comp.manager.evaluate(group, t)  # type: ignore[union-attr]

    got = server.tsdb.select([Matcher("__name__", MatchOp.EQUAL, "app:error_lines:count1m")], 0, 2**62)
    assert [(dict(x.labels), x.values.tolist()) for x in got] == [
        ({"__name__": "app:error_lines:count1m", "app": "api"}, [3.0])
    ]
    alerts = (await server.client.get("/prometheus/api/v1/alerts", headers=org("team-a"))).json()["data"][
        "alerts"
    ]
    assert [(a["labels"], a["state"], a["value"]) for a in alerts] == [
        ({"alertname": "ManyErrors", "app": "api", "severity": "page"}, "firing", "3e+00")
    ]
    assert alerts[0]["annotations"] == {"summary": "api logged 3 errors"}
    assert len(sent) == 1
    assert (await server.client.get("/prometheus/api/v1/alerts", headers=org("fake"))).json()["data"][
        "alerts"
    ] == []
    rules = (await server.client.get("/prometheus/api/v1/rules", headers=org("team-a"))).json()["data"][
        "groups"
    ]
    assert [r["health"] for r in rules[0]["rules"]] == ["ok", "ok"]


@given(
    st.sets(
        st.tuples(
            st.text(st.characters(exclude_characters=":,"), min_size=1),
            st.text(st.characters(exclude_characters=",")),
        ),
        max_size=5,
    )
)
def test_labels_parameter_parses_name_value_pairs(pairs: set[tuple[str, str]]) -> None:
    assert label_pairs(",".join(f"{n}:{v}" for n, v in sorted(pairs))) == pairs


async def test_listing_keeps_rules_with_one_of_the_labels(server: Server) -> None:
    assert (await post(server, "ns", LOKITOOL_GROUP)).status_code == 202
    c = server.client
    paged = await c.get("/loki/api/v1/rules", params={"labels": "team:x,severity:page"}, headers=org("fake"))
    (group,) = yaml.safe_load(paged.text)["ns"]
    assert [r.get("alert") for r in group["rules"]] == ["ManyErrors"]
    none = await c.get("/loki/api/v1/rules/ns", params={"labels": "severity:info"}, headers=org("fake"))
    assert (none.status_code, yaml.safe_load(none.text)) == (200, {})
    bad = await c.get("/loki/api/v1/rules", params={"labels": "severity"}, headers=org("fake"))
    assert bad.status_code == 400 and "name:value" in bad.text


async def test_a_group_that_cannot_be_stored_is_not_run(server: Server) -> None:
    (server.data / RULER_DIR).mkdir(exist_ok=True)
    (server.data / RULER_DIR / "fake").write_text("a file where the tenant's directory goes")
    r = await post(server, "ns", LOKITOOL_GROUP)
    assert r.status_code == 500 and r.text.startswith("unable to store the rule groups: ")
    assert server.comp.manager.groups == {}  # type: ignore[union-attr]
    assert (await server.client.get("/loki/api/v1/rules", headers=org("fake"))).status_code == 404


TEXT = st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn"))  # YAML refuses control characters
LABEL_NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
RULES = st.lists(
    st.fixed_dictionaries(
        {
            "alert": st.from_regex(r"[A-Z][A-Za-z0-9]{0,10}", fullmatch=True),
            "expr": st.sampled_from(
                ['sum(rate({app="a"}[1m])) > 1', 'count_over_time({app=~".+"} |= "x" [5m])']
            ),
            "for": st.sampled_from(["0s", "30s", "5m", "1h30m"]),
            "labels": st.dictionaries(LABEL_NAMES, st.text(TEXT, max_size=10), max_size=3),
        }
    ),
    min_size=1,
    max_size=3,
)


@given(st.text(TEXT, min_size=1, max_size=20), st.sampled_from(["", "15s", "1m", "2h"]), RULES, st.booleans())
def test_stored_form_round_trips_through_yaml_and_json(
    name: str, interval: str, rules: list, as_json: bool
) -> None:
    group = {"name": name, **({"interval": interval} if interval else {}), "rules": rules}
    body = orjson.dumps(group) if as_json else yaml.safe_dump(group).encode()
    (d,) = group_defs([decode_group(body, "t")], "t", "ns.yaml")
    stored = group_node(d)
    (again,) = group_defs([decode_group(yaml.safe_dump(stored).encode(), "t")], "t", "ns.yaml")
    assert group_node(again) == stored
    assert [r["alert"] for r in stored["rules"]] == [r["alert"] for r in rules] and stored["name"] == name
