"""The agent's HTTP client and listener (h11 on asyncio streams) against aiohttp's, and raw sockets."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from fakeloki import free_port

from pharos.agent.http import MetricsServer, PushClient


class Endpoint:
    """An aiohttp server recording each request's peer, headers and body."""

    def __init__(self) -> None:
        self.port = free_port()
        self.seen: list[tuple[object, dict[str, str], bytes]] = []
        self.status = 204
        self.delay = 0.0
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/push", self.push)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def push(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        self.seen.append(
            (request.transport.get_extra_info("peername"), dict(request.headers), await request.read())
        )
        await asyncio.sleep(self.delay)
        if self.status == 400:  # a chunked error body, as proxies send them
            resp = web.StreamResponse(status=400)
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            await resp.write(b"bad ")
            await resp.write(b"entry")
            await resp.write_eof()
            return resp
        return web.Response(status=self.status)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def endpoint() -> AsyncIterator[Endpoint]:
    ep = Endpoint()
    await ep.start()
    yield ep
    await ep.stop()


async def test_posts_reuse_one_connection_and_carry_headers(endpoint: Endpoint) -> None:
    client = PushClient(f"http://127.0.0.1:{endpoint.port}/push?x=1", {"X-Scope-OrgID": "t1"}, timeout=5)
    bodies = [b"a" * 10, b"b" * 300_000, b""]
    for body in bodies:
        assert await client.post(body) == (204, b"")
    client.close()
    assert [b for _, _, b in endpoint.seen] == bodies
    assert len({peer for peer, _, _ in endpoint.seen}) == 1
    headers = endpoint.seen[0][1]
    assert headers["X-Scope-OrgID"] == "t1" and headers["Host"] == f"127.0.0.1:{endpoint.port}"


async def test_reconnects_after_the_server_went_away(endpoint: Endpoint) -> None:
    client = PushClient(f"http://127.0.0.1:{endpoint.port}/push", {}, timeout=5)
    assert (await client.post(b"one"))[0] == 204
    await endpoint.stop()
    with pytest.raises(OSError):
        await client.post(b"lost")
    await endpoint.start()
    assert (await client.post(b"two"))[0] == 204
    client.close()
    assert [b for _, _, b in endpoint.seen] == [b"one", b"two"]


async def test_error_status_with_chunked_body_and_basic_auth_from_url(endpoint: Endpoint) -> None:
    endpoint.status = 400
    client = PushClient(f"http://us%40r:p%3Ass@127.0.0.1:{endpoint.port}/push", {}, timeout=5)
    assert await client.post(b"x") == (400, b"bad entry")
    endpoint.status = 204
    assert (await client.post(b"y"))[0] == 204  # the connection stays usable after a chunked body
    client.close()
    auth = endpoint.seen[0][1]["Authorization"]
    assert base64.b64decode(auth.removeprefix("Basic ")) == b"us@r:p:ss"


async def test_timeout(endpoint: Endpoint) -> None:
    endpoint.delay = 2.0
    client = PushClient(f"http://127.0.0.1:{endpoint.port}/push", {}, timeout=0.2)
    with pytest.raises(TimeoutError):
        await client.post(b"slow")
    client.close()


def test_rejects_a_url_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        PushClient("ftp://host/push", {}, timeout=1)


@pytest.fixture
async def server() -> AsyncIterator[int]:
    async def metrics() -> tuple[bytes, str]:
        return b"up 1\n", "text/plain"

    srv = MetricsServer({"/metrics": metrics})
    port = free_port()
    await srv.start("127.0.0.1", port)
    yield port
    await srv.close()


async def test_listener_answers_routes_like_aiohttp_did(server: int) -> None:
    base = f"http://127.0.0.1:{server}"
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{base}/metrics?x=1") as r:
            assert (r.status, await r.text(), r.headers["Content-Type"]) == (
                200,
                "up 1\n",
                "text/plain; charset=utf-8",
            )
        async with s.head(f"{base}/metrics") as r:
            assert (r.status, r.headers["Content-Length"], await r.read()) == (200, "5", b"")
        async with s.get(f"{base}/nope") as r:
            assert r.status == 404
        async with s.post(f"{base}/metrics", data=b"body") as r:
            assert (r.status, r.headers["Allow"]) == (405, "GET, HEAD")


async def test_listener_keeps_alive_and_rejects_garbage(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    request = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{server}\r\n\r\n".encode()
    writer.write(request * 2)
    await writer.drain()
    replies = b""
    while replies.count(b"up 1\n") < 2:
        replies += await asyncio.wait_for(reader.read(4096), 5)
    assert replies.count(b"HTTP/1.1 200 ") == 2
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"NOT HTTP\r\n\r\n")
    reply = await asyncio.wait_for(reader.read(), 5)
    assert reply.startswith(b"HTTP/1.1 400 ") and b"bad request" in reply
    writer.close()
