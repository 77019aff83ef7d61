"""API v2 answers in-process: validation errors, filters, silence lifecycle, 503 before start."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi import FastAPI

from pharos.alertmanager.api import router
from pharos.alertmanager.clock import FakeClock
from pharos.alertmanager.core import Alertmanager

CONFIG = """
route:
  receiver: a
  routes: [{matchers: [team=b], receiver: b}]
receivers: [{name: a}, {name: b}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
"""


def _client(am: Alertmanager | None) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(router(lambda: am, "test"))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_not_ready_is_503() -> None:
    async with _client(None) as c:
        assert (await c.get("/api/v2/alerts")).status_code == 503


async def test_alerts_post_validation_and_filters(make_am: Callable[..., Alertmanager], clock: FakeClock) -> None:
    am = make_am(CONFIG)
    async with _client(am) as c:
        bad = await c.post("/api/v2/alerts", json=[{"labels": {}}, {"labels": {"alertname": "ok", "team": "b"}}])
        assert bad.status_code == 400 and bad.json() == "at least one label pair required"
        ok = await c.post("/api/v2/alerts", json=[
            {"labels": {"alertname": "crit", "severity": "critical"}},
            {"labels": {"alertname": "warn", "severity": "warning", "empty": ""},
             "startsAt": "2024-01-15T11:00:00.123456789Z"}])
        assert ok.status_code == 200
        names = [a["labels"]["alertname"] for a in (await c.get("/api/v2/alerts")).json()]
        assert sorted(names) == ["crit", "ok", "warn"]
        warn = (await c.get("/api/v2/alerts", params={"filter": 'alertname="warn"'})).json()[0]
        assert warn["labels"] == {"alertname": "warn", "severity": "warning"}
        assert warn["startsAt"] == "2024-01-15T11:00:00.123Z"
        assert warn["endsAt"] == "2024-01-15T12:05:00.000Z"  # now + resolve_timeout
        assert warn["status"]["state"] == "suppressed" and len(warn["status"]["inhibitedBy"]) == 1
        visible = (await c.get("/api/v2/alerts", params={"inhibited": "false"})).json()
        assert sorted(a["labels"]["alertname"] for a in visible) == ["crit", "ok"]
        only_b = (await c.get("/api/v2/alerts", params={"receiver": "b"})).json()
        assert [a["labels"]["alertname"] for a in only_b] == ["ok"]
        assert (await c.get("/api/v2/alerts", params={"filter": "a=~("})).status_code == 400


async def test_silence_lifecycle(make_am: Callable[..., Alertmanager], clock: FakeClock) -> None:
    am = make_am(CONFIG)
    start, end = "2024-01-15T12:00:00Z", "2024-01-15T13:00:00Z"
    matchers = [{"name": "job", "value": "x.*", "isRegex": True, "isEqual": True}]
    async with _client(am) as c:
        r = await c.post("/api/v2/silences", json={"matchers": matchers, "startsAt": start, "endsAt": start,
                                                   "createdBy": "me", "comment": "c"})
        assert r.status_code == 400 and r.json() == "Failed to create silence: start time must be before end time"
        empty = [{"name": "job", "value": ".*", "isRegex": True}]
        r = await c.post("/api/v2/silences", json={"matchers": empty, "startsAt": start, "endsAt": end,
                                                   "createdBy": "me", "comment": "c"})
        assert r.status_code == 400 and "must not match the empty string" in r.json()
        r = await c.post("/api/v2/silences", json={"matchers": matchers, "startsAt": start, "endsAt": end,
                                                   "createdBy": "me", "comment": "c"})
        sid = r.json()["silenceID"]
        got = (await c.get(f"/api/v2/silence/{sid}")).json()
        assert got["status"] == {"state": "active"} and got["matchers"] == [
            {"isEqual": True, "isRegex": True, "name": "job", "value": "x.*"}]
        assert got["createdBy"] == "me" and got["endsAt"] == "2024-01-15T13:00:00.000Z"
        assert (await c.delete(f"/api/v2/silence/{sid}")).status_code == 200
        assert (await c.get(f"/api/v2/silence/{sid}")).json()["status"] == {"state": "expired"}
        assert (await c.get("/api/v2/silence/nope")).status_code == 404
        listed = (await c.get("/api/v2/silences", params={"filter": "job=x.*"})).json()
        assert [s["id"] for s in listed] == [sid]
        unknown = await c.post("/api/v2/silences", json={"id": "nope", "matchers": matchers, "startsAt": start,
                                                         "endsAt": end, "createdBy": "me", "comment": "c"})
        assert unknown.status_code == 404
        status = (await c.get("/api/v2/status")).json()
        assert status["cluster"]["status"] == "disabled" and "route:" in status["config"]["original"]


async def test_state_parameters(make_am: Callable[..., Alertmanager], clock: FakeClock) -> None:
    am = make_am(CONFIG)
    async with _client(am) as c:
        bad = await c.get("/api/v2/alerts", params={"silenced": "maybe"})
        assert bad.status_code == 400 and bad.json() == 'silenced in query must be of type boolean: "maybe"'
        assert (await c.get("/api/v2/alerts/groups", params={"active": "x"})).status_code == 400
        await c.post("/api/v2/alerts", json=[
            {"labels": {"alertname": "crit", "severity": "critical"}},
            {"labels": {"alertname": "warn", "severity": "warning"}}])
        def names(r: httpx.Response) -> list[str]:
            return sorted(a["labels"]["alertname"] for a in r.json())
        assert names(await c.get("/api/v2/alerts", params={"active": "false"})) == ["warn"]
        assert names(await c.get("/api/v2/alerts", params={"active": "0", "inhibited": "0"})) == []
        groups = (await c.get("/api/v2/alerts/groups", params={"inhibited": "false"})).json()
        assert [[a["labels"]["alertname"] for a in g["alerts"]] for g in groups] == [["crit"]]
