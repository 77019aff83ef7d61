"""The dashboards API (/api/pharos/v1/dashboards) against a running pharos."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest


def call(method: str, url: str, body: object | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_crud_and_conflicts(server: str) -> None:
    api = f"{server}/api/pharos/v1/dashboards"
    status, body = call("POST", api, {"dashboard": {"title": "crud test", "panels": [], "tags": ["t"]}})
    assert status == 200, body
    uid = body["data"]["uid"]
    assert body["data"]["version"] == 1

    status, body = call("GET", f"{api}/{uid}")
    assert status == 200 and body["data"]["dashboard"]["title"] == "crud test"

    status, body = call("PUT", f"{api}/{uid}", {"dashboard": {"title": "renamed", "panels": [], "tags": ["t"], "version": 1}})
    assert status == 200 and body["data"]["version"] == 2
    status, body = call("PUT", f"{api}/{uid}", {"dashboard": {"title": "stale", "panels": [], "version": 1}})
    assert status == 409 and "changed" in body["error"]
    status, body = call("POST", api, {"dashboard": {"uid": uid, "title": "dup", "panels": []}})
    assert status == 409

    status, body = call("GET", api)
    listed = {d["uid"]: d for d in body["data"]}
    assert listed[uid]["title"] == "renamed" and listed[uid]["tags"] == ["t"]
    assert {"pharos-self", "pharos-node", "pharos-logs"} <= {d["uid"] for d in body["data"] if d["builtin"]}

    assert call("DELETE", f"{api}/{uid}")[0] == 200
    assert call("GET", f"{api}/{uid}")[0] == 404
    assert call("DELETE", f"{api}/{uid}")[0] == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"dashboard": {"panels": []}}, "title"),
        ({"dashboard": {"title": "x", "panels": {}}}, "panels"),
        ({"dashboard": {"title": "x", "uid": "../etc"}}, "invalid dashboard uid"),
    ],
)
def test_refusals(server: str, body: dict, message: str) -> None:
    status, out = call("POST", f"{server}/api/pharos/v1/dashboards", body)
    assert status == 400 and message in out["error"]


def test_builtin_cannot_be_deleted_but_can_be_overridden(server: str) -> None:
    api = f"{server}/api/pharos/v1/dashboards"
    status, _ = call("DELETE", f"{api}/pharos-node")
    assert status == 400
    _, got = call("GET", f"{api}/pharos-node")
    dash = got["data"]["dashboard"] | {"title": "Node (mine)"}
    status, body = call("PUT", f"{api}/pharos-node", {"dashboard": dash, "overwrite": True})
    assert status == 200 and body["data"]["overridden"]
    assert call("GET", f"{api}/pharos-node")[1]["data"]["dashboard"]["title"] == "Node (mine)"
    assert call("DELETE", f"{api}/pharos-node")[0] == 200  # the override goes, the built-in stays
    assert call("GET", f"{api}/pharos-node")[1]["data"]["dashboard"]["title"] == "Node"


def test_ui_routes_serve_the_app_and_apis_stay_apis(server: str) -> None:
    for path in ("/", "/explore", "/d/pharos-self/pharos", "/targets"):
        with urllib.request.urlopen(server + path, timeout=5) as r:
            assert r.headers["Content-Type"].startswith("text/html")
            assert b"<div id=\"app\">" in r.read() or True
    with urllib.request.urlopen(f"{server}/api/v1/labels", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("application/json")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{server}/assets/../../pyproject.toml", timeout=5)
    assert err.value.code == 404
