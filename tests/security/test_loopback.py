"""`pharos.server.loopback` on a small app behind the security middleware: an in-process call
passes where a request over HTTP without credentials gets 401; path, query, headers and body
arrive as sent; an exception in the app is a 500."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pharos.config.loader import parse_config
from pharos.server.loopback import Loopback
from pharos.server.security import SecurityMiddleware


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse(
        {
            "path": request.url.path,
            "query": dict(request.query_params),
            "host": request.headers["host"],
            "tenant": request.headers.get("x-scope-orgid"),
            "body": body.decode(),
        }
    )


async def broken(request: Request) -> JSONResponse:
    raise RuntimeError("boom")


def app() -> SecurityMiddleware:
    """Routes behind basic auth and auth_enabled."""
    loaded = parse_config("server: {basic_auth: {username: u, password: p}, auth_enabled: true}\n")
    inner = Starlette(
        routes=[Route("/loki/api/v1/{rest:path}", echo, methods=["POST"]), Route("/boom", broken)]
    )
    return SecurityMiddleware(inner, SimpleNamespace(loaded=loaded))  # type: ignore[arg-type]


async def test_in_process_requests_pass_the_door_network_ones_do_not() -> None:
    guarded = app()
    network = httpx.AsyncClient(transport=httpx.ASGITransport(app=guarded), base_url="http://pharos")
    async with network:
        assert (await network.post("/loki/api/v1/push", content=b"x")).status_code == 401
    loopback = Loopback(guarded)
    status, body = await loopback.request(
        "POST", "https://h:1/loki/api/v1/push?a=b%20c", b"line", {"X-Scope-OrgID": "t1"}
    )
    assert status == 200
    assert httpx.Response(200, content=body).json() == {
        "path": "/loki/api/v1/push",
        "query": {"a": "b c"},
        "host": "h:1",
        "tenant": "t1",
        "body": "line",
    }
    client = loopback.client("http://127.0.0.1:9494/loki/api/v1/push", {}, timeout=5)
    assert (await client.post(b"y"))[0] == 200


async def test_an_exception_in_the_app_is_a_500() -> None:
    status, _ = await Loopback(app()).request("GET", "/boom")
    assert status == 500
