"""Basic and bearer authentication on a real `pharos server`: every route but the probes answers
401 without credentials (a WebSocket tail is refused) and works with them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from pharos_testproc import free_port, pharos_cmd, wait_for
from sechelp import BASIC, BEARER, PASSWORD, TOKEN, USER, Call, SecureServer, calls, open_tail, push_line
from websockets.exceptions import InvalidStatus

from pharos.server.app import create_app
from pharos.server.options import ServerOptions, load
from pharos.server.runtime import Runtime
from pharos.web.component import STATIC_DIR

OPEN = ["/-/healthy", "/-/ready"]  # kubelet probes carry no credentials; they reveal nothing
NOT_IMPLEMENTED = {("DELETE", "/api/v1/series")}  # Prometheus answers 500 "not implemented" too
CONFIGS = {
    "basic": f"server:\n  basic_auth: {{username: {USER}, password: {PASSWORD}}}\n",
    "bearer": f"server:\n  bearer_token: {TOKEN}\n",
}
GOOD = {"basic": {"auth": BASIC}, "bearer": {"headers": BEARER}}
BAD = {
    "basic": [
        {"auth": httpx.BasicAuth(USER, "wrong")},
        {"headers": {"Authorization": "Basic %%%"}},
        {"headers": BEARER},
    ],
    "bearer": [{"headers": {"Authorization": "Bearer wrong"}}, {"auth": BASIC}],
}


def asset() -> str:
    """A file of the built UI that index.html loads."""
    found = re.search(r'/assets/([^"]+\.js)"', (STATIC_DIR / "index.html").read_text())
    assert found, "the built UI has no script asset"
    return found.group(1)


def mounted_routes(tmp_path: Path) -> list[tuple[str, re.Pattern[str]]]:
    """(method, path regex) of every route `pharos server` mounts ("WS" for WebSockets)."""
    opts = ServerOptions(data_dir=tmp_path)
    app = create_app(Runtime(opts, load(opts)))
    out: list[tuple[str, re.Pattern[str]]] = []

    def walk(routes: list) -> None:  # type: ignore[type-arg]
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included routers
                walk(route.original_router.routes)
                continue
            out.extend((m, route.path_regex) for m in (getattr(route, "methods", None) or ["WS"]))

    walk(app.routes)
    return out


def test_the_call_table_covers_every_mounted_route(tmp_path: Path) -> None:
    probes = [Call(m, p) for p in OPEN for m in ("GET", "HEAD")]
    table = [*calls(asset()), *probes, Call("WS", "/loki/api/v1/tail")]
    missing = [
        (m, rx.pattern)
        for m, rx in mounted_routes(tmp_path)
        if not any(c.method == m and rx.match(c.path) for c in table)
    ]
    assert missing == []


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def secured(request: pytest.FixtureRequest, start_module) -> tuple[str, SecureServer]:  # type: ignore[no-untyped-def]
    """A server with basic or bearer auth."""
    return request.param, start_module(CONFIGS[request.param])


def test_every_route_needs_credentials(secured: tuple[str, SecureServer]) -> None:
    kind, server = secured
    for call in calls(asset()):
        anonymous = call.send(server.client)
        assert anonymous.status_code == 401, (call, anonymous.text)
        assert anonymous.headers["www-authenticate"].startswith(kind.capitalize())
        for bad in BAD[kind]:
            assert call.send(server.client, **bad).status_code == 401, (call, bad)
        allowed = call.send(server.client, **GOOD[kind])
        assert allowed.status_code not in (401, 403), (call, allowed.text)
        assert allowed.status_code < 500 or (call.method, call.path) in NOT_IMPLEMENTED, (call, allowed.text)


def test_probes_stay_open(secured: tuple[str, SecureServer]) -> None:
    _, server = secured
    for path in OPEN:
        assert server.client.get(path).status_code == 200


def test_pushed_data_is_read_back_only_with_credentials(secured: tuple[str, SecureServer]) -> None:
    kind, server = secured
    assert push_line(server.client, None, {"app": "authed"}, "hello").status_code == 401
    assert push_line(server.client, None, {"app": "authed"}, "hello", **GOOD[kind]).status_code == 204
    values = server.client.get("/loki/api/v1/label/app/values", **GOOD[kind]).json()["data"]
    assert "authed" in values


def test_tail_websocket_needs_credentials(secured: tuple[str, SecureServer]) -> None:
    kind, server = secured
    with pytest.raises(InvalidStatus) as refused:
        open_tail(server, '{app="sec"}', {})
    assert refused.value.response.status_code == 403
    headers = BEARER if kind == "bearer" else {"Authorization": BASIC._auth_header}
    with open_tail(server, '{app="sec"}', headers) as ws:
        ws.ping().wait(10)


def test_a_reload_changes_the_credentials(start_module) -> None:  # type: ignore[no-untyped-def]
    server = start_module(CONFIGS["bearer"])
    config = server.workdir / "pharos.yml"
    secret = server.workdir / "token"
    secret.write_text("rotated-token\n")
    config.write_text(f"server:\n  bearer_token_file: {secret.name}\n")  # relative to the config file
    assert server.client.post("/-/reload", headers=BEARER).status_code == 200
    assert server.client.get("/api/v1/labels", headers=BEARER).status_code == 401
    assert (
        server.client.get("/api/v1/labels", headers={"Authorization": "Bearer rotated-token"}).status_code
        == 200
    )
    secret.unlink()
    config.write_text(f"server:\n  bearer_token_file: {secret}\n")
    failed = server.client.post("/-/reload", headers={"Authorization": "Bearer rotated-token"})
    assert failed.status_code == 500 and f"cannot read {secret}" in failed.text
    assert (
        server.client.get("/api/v1/labels", headers={"Authorization": "Bearer rotated-token"}).status_code
        == 200
    )


def test_rules_reach_the_own_alertmanager_with_configured_credentials(start_module, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rules = tmp_path / "rules.yml"
    rules.write_text(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - alert: SecAlways\n        expr: vector(1)\n"
    )
    port = free_port()
    config = (
        CONFIGS["basic"] + f"rule_files: [{rules}]\nalerting:\n  alertmanagers:\n    - static_configs:\n"
        f"        - targets: ['127.0.0.1:{port}']\n      basic_auth: {{username: {USER}, password: {PASSWORD}}}\n"
    )
    server = start_module(config, port=port)

    def names() -> list[str]:
        return [a["labels"]["alertname"] for a in server.client.get("/api/v2/alerts", auth=BASIC).json()]

    wait_for(lambda: "SecAlways" in names(), what="the rule's alert in the own Alertmanager")


def test_an_agent_pushes_with_credentials_in_its_push_url(start_module, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = start_module(CONFIGS["basic"])
    (tmp_path / "app.log").write_text("shipped with credentials\n")
    push = f"http://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/loki/api/v1/push"
    argv = [
        "agent",
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--logs",
        str(tmp_path / "*.log"),
        "--positions",
        str(tmp_path / "positions.db"),
        "--push-url",
        push,
    ]
    agent = subprocess.Popen(pharos_cmd(*argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(
            lambda: (
                "shipped with credentials"
                in server.client.get(
                    "/loki/api/v1/query_range", params={"query": '{filename=~".+"}'}, auth=BASIC
                ).text
            ),
            what="the agent's line",
        )
    finally:
        agent.terminate()
        agent.wait(timeout=30)


def test_status_config_shows_secrets_as_secret(secured: tuple[str, SecureServer]) -> None:
    kind, server = secured
    text = server.client.get("/api/v1/status/config", **GOOD[kind]).json()["data"]["yaml"]
    assert PASSWORD not in text and TOKEN not in text
    assert "<secret>" in text
