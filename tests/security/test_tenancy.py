"""Tenants (X-Scope-OrgID) on a real `pharos server`: tenant B never sees or alters tenant A's
log lines, labels, series, index stats and volumes, live tail, Loki-ruler groups or delete
requests. Without the header a request is tenant `fake` (auth_enabled: false, the default, as
Loki) or refused with 401 `no org id` (auth_enabled: true)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from sechelp import RULES, SecureServer, open_tail, push_line

A, B = {"X-Scope-OrgID": "team-a"}, {"X-Scope-OrgID": "team-b"}
A_SELECTOR = '{app="a-only"}'
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture(scope="module")
def server(start_module) -> SecureServer:  # type: ignore[no-untyped-def]
    srv = start_module("")
    assert (
        push_line(srv.client, "team-a", {"app": "a-only", "secret": "x"}, "A secret line").status_code == 204
    )
    assert push_line(srv.client, "team-b", {"app": "b"}, "B line").status_code == 204
    return srv


def window() -> dict[str, str]:
    now = time.time_ns()
    return {"start": str(now - 3600 * 10**9), "end": str(now + 10**9)}


def lines(client: httpx.Client, headers: dict[str, str], query: str = '{app=~".+"}') -> list[str]:
    r = client.get("/loki/api/v1/query_range", params={"query": query, **window()}, headers=headers)
    assert r.status_code == 200, r.text
    return sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"])


def get_json(client: httpx.Client, path: str, headers: dict[str, str], **params: str) -> Any:
    """GET `path` as a tenant; the decoded JSON of a 200."""
    r = client.get(path, params=params, headers=headers)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def test_queries_labels_series_and_index_stay_in_their_tenant(server: SecureServer) -> None:
    c, w = server.client, window()
    assert lines(c, A) == ["A secret line"] and lines(c, B) == ["B line"]
    assert lines(c, B, A_SELECTOR) == []
    assert get_json(c, "/loki/api/v1/labels", B, **w)["data"] == ["app"]
    assert get_json(c, "/loki/api/v1/label/app/values", B, **w)["data"] == ["b"]
    assert get_json(c, "/loki/api/v1/series", B, **{"match[]": '{app=~".+"}'}, **w)["data"] == [{"app": "b"}]
    stats = get_json(c, "/loki/api/v1/index/stats", B, query=A_SELECTOR, **w)
    assert stats["entries"] == 0 and stats["streams"] == 0
    volume = get_json(c, "/loki/api/v1/index/volume", B, query='{app=~".+"}', **w)
    assert [r["metric"] for r in volume["data"]["result"]] == [{"app": "b"}]
    instant = get_json(c, "/loki/api/v1/query", B, query=f"count_over_time({A_SELECTOR}[1h])")
    assert instant["data"]["result"] == []


def test_tail_sees_only_its_tenant(server: SecureServer) -> None:
    with open_tail(server, '{app=~".+"}', B) as ws:
        push_line(server.client, "team-a", {"app": "a-only"}, "A while B tails")
        push_line(server.client, "team-b", {"app": "b"}, "B while B tails")
        seen: list[str] = []
        while "B while B tails" not in seen:
            frame = json.loads(ws.recv(timeout=30))
            seen += [v[1] for s in frame["streams"] for v in s["values"]]
    assert not any(line.startswith("A ") for line in seen)


def test_ruler_groups_are_per_tenant(server: SecureServer) -> None:
    c = server.client
    assert c.post("/loki/api/v1/rules/ns-a", content=RULES, headers=A | YAML).status_code == 202
    assert c.get("/loki/api/v1/rules", headers=B).status_code == 404  # Loki: no rule groups found
    assert c.get("/loki/api/v1/rules/ns-a", headers=B).status_code == 404
    c.delete("/loki/api/v1/rules/ns-a", headers=B)
    c.delete("/loki/api/v1/rules/ns-a/g1", headers=B)
    other = RULES.replace("sec:lines:rate1m", "b:lines:rate1m")
    assert c.post("/loki/api/v1/rules/ns-a", content=other, headers=B | YAML).status_code == 202
    own = c.get("/loki/api/v1/rules/ns-a", headers=A)
    assert own.status_code == 200 and "sec:lines:rate1m" in own.text and "b:lines" not in own.text
    prom = c.get("/prometheus/api/v1/rules", headers=B).json()["data"]["groups"]
    assert [r["name"] for g in prom for r in g["rules"]] == ["b:lines:rate1m"]


def test_delete_requests_are_per_tenant(server: SecureServer) -> None:
    c, start = server.client, str(time.time_ns() // 10**9 - 3600)
    assert (
        c.post("/loki/api/v1/delete", params={"query": A_SELECTOR, "start": start}, headers=B).status_code
        == 204
    )
    assert "A secret line" in lines(c, A)
    assert (
        c.post(
            "/loki/api/v1/delete", params={"query": '{app="nothing"}', "start": start}, headers=A
        ).status_code
        == 204
    )
    a_requests = c.get("/loki/api/v1/delete", headers=A).json()
    assert [r["query"] for r in a_requests] == ['{app="nothing"}']
    assert [r["query"] for r in c.get("/loki/api/v1/delete", headers=B).json()] == [A_SELECTOR]
    cancel = c.delete("/loki/api/v1/delete", params={"request_id": a_requests[0]["request_id"]}, headers=B)
    assert cancel.status_code == 404
    assert len(c.get("/loki/api/v1/delete", headers=A).json()) == 1


def test_missing_header_is_tenant_fake_by_default(server: SecureServer) -> None:
    assert push_line(server.client, None, {"app": "anon"}, "no header").status_code == 204
    assert lines(server.client, {"X-Scope-OrgID": "fake"}, '{app="anon"}') == ["no header"]
    assert lines(server.client, {}, '{app="anon"}') == ["no header"]
    assert lines(server.client, A, '{app="anon"}') == []


@pytest.mark.parametrize("tenant", ["../team-a", "a/b", "a|b", "..", "x" * 200])
def test_bad_tenant_ids_are_a_clear_400(server: SecureServer, tenant: str) -> None:
    r = push_line(server.client, tenant, {"app": "bad"}, "nope")
    assert r.status_code == 400
    assert "multi-tenant" in r.text or "tenant ID" in r.text
    assert (
        r.status_code
        == server.client.get("/loki/api/v1/rules", headers={"X-Scope-OrgID": tenant}).status_code
    )


def test_auth_enabled_requires_the_header(start_module) -> None:  # type: ignore[no-untyped-def]
    strict = start_module("server:\n  auth_enabled: true\n")
    for path in ("/loki/api/v1/labels", "/loki/api/v1/rules", "/api/prom/rules", "/prometheus/api/v1/rules"):
        r = strict.client.get(path)
        assert (r.status_code, r.text) == (401, "no org id\n"), path
    assert push_line(strict.client, None, {"app": "x"}, "refused").status_code == 401
    assert push_line(strict.client, "team-a", {"app": "x"}, "taken").status_code == 204
    assert lines(strict.client, A, '{app="x"}') == ["taken"]
    assert strict.client.get("/api/v1/labels").status_code == 200  # Prometheus APIs are not per tenant
