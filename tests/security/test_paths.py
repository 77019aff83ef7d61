"""No request reaches a file outside pharos' own folders: names taken from a request (UI asset
paths, SPA routes, dashboard uids, Loki-ruler namespaces and groups, silence ids, monitor names,
Pushgateway job and label values, tenants) carrying `../`, absolute paths, percent-encoded dots
and slashes or NUL bytes never read a sentinel file outside and never create one; every answer
is a clear 4xx (or an ordinary answer about a harmless name), never a 500."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote

import pytest
from sechelp import SecureServer

SECRET = "TOPSECRET-5b1f0c"
YAML = {"Content-Type": "application/yaml"}


@pytest.fixture(scope="module")
def server(start_module) -> SecureServer:  # type: ignore[no-untyped-def]
    srv = start_module("")
    (srv.workdir / "secret.txt").write_text(SECRET)
    return srv


def names(server: SecureServer, leaf: str) -> list[str]:
    """Hostile names pointing at `leaf` beside the data directory (raw, to be quoted once)."""
    target = server.workdir / leaf
    climb = "../" * 24 + str(target).lstrip("/")
    return [
        climb,
        str(target),
        "..",
        "../" + leaf,
        "..%2f" + leaf,
        "%2e%2e/" + leaf,
        f"{leaf}\x00.yaml",
        "a\x00b",
        "../../../../../../" + leaf,
    ]


def paths(server: SecureServer, leaf: str) -> list[str]:
    """Each hostile name as one encoded path segment, as a raw path, and double-encoded."""
    out = []
    for name in names(server, leaf):
        out += [quote(name, safe=""), quote(name, safe="/"), quote(quote(name, safe=""), safe="")]
    return out


def escaped(server: SecureServer, leaf: str) -> list[Path]:
    """Files named like `leaf` in any folder above the data directory (where an escape lands)."""
    return [p for folder in server.data_dir.parents for p in folder.glob(f"*{leaf}*")]


READS = [
    "/assets/{}",
    "/explore/{}",
    "/api/pharos/v1/dashboards/{}",
    "/loki/api/v1/rules/{}",
    "/loki/api/v1/rules/ns/{}",
    "/api/prom/rules/{}",
    "/api/v2/silence/{}",
    "/api/pharos/v1/monitors/{}",
    "/api/pharos/v1/monitors/{}/history",
    "/api/v1/label/{}/values",
    "/loki/api/v1/label/{}/values",
]


@pytest.mark.parametrize("route", READS)
def test_reads_never_leave_their_folder(server: SecureServer, route: str) -> None:
    for path in paths(server, "secret.txt"):
        r = server.client.get(route.format(path))
        assert r.status_code < 500, (route, path, r.text)
        assert SECRET not in r.text, (route, path)


def test_a_nul_byte_in_a_query_parameter_is_a_clear_error(server: SecureServer) -> None:
    for path in ("/api/v1/query", "/loki/api/v1/query"):
        r = server.client.get(path, params={"query": "up\x00"})
        assert 400 <= r.status_code < 500, (path, r.text)


def test_writes_never_leave_their_folder(server: SecureServer) -> None:
    c, rules = server.client, 'name: pwned-group\nrules:\n  - record: x:y\n    expr: sum(rate({a="b"}[1m]))\n'
    for path in paths(server, "pwned"):
        calls = [
            c.post(f"/loki/api/v1/rules/{path}", content=rules, headers=YAML),
            c.put(f"/metrics/job/{path}", content=b"m 1\n"),
            c.put(f"/metrics/job/x/{path}/v", content=b"m 1\n"),
            c.put(f"/metrics/job/x/l/{path}", content=b"m 1\n"),
            c.put(f"/api/pharos/v1/dashboards/{path}", json={"dashboard": {"title": "t", "panels": []}}),
            c.put(f"/api/pharos/v1/monitors/{path}", json={"name": "m", "type": "metric", "query": "up"}),
            c.delete(f"/loki/api/v1/rules/{path}"),
            c.delete(f"/api/pharos/v1/dashboards/{path}"),
            c.delete(f"/api/v2/silence/{path}"),
        ]
        for r in calls:
            assert r.status_code < 500, (r.request.method, r.request.url, r.text)
    for name in names(server, "pwned"):
        b64 = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=") or "="
        for url in (f"/metrics/job@base64/{b64}", f"/metrics/job/x/l@base64/{b64}"):
            assert c.put(url, content=b"m 1\n").status_code < 500, url
        for body in (
            {"dashboard": {"uid": name, "title": "t"}},
            {"name": name, "type": "metric", "query": "up"},
        ):
            url = "/api/pharos/v1/dashboards" if "dashboard" in body else "/api/pharos/v1/monitors"
            assert c.post(url, json=body).status_code < 500, (url, body)
        ns = c.post(
            f"/loki/api/v1/rules/{quote(name, safe='')}",
            content=rules.replace("pwned-group", name),
            headers=YAML,
        )
        assert ns.status_code < 500, (name, ns.text)
    assert escaped(server, "pwned") == []
    assert server.client.get("/-/ready").status_code == 200
