"""Fixtures for the scrape tests: a real TSDB in tmp_path and loopback HTTP targets."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from pharos.metrics.tsdb.db import TSDB, TSDBOptions


@pytest.fixture
def tsdb(tmp_path: Path) -> Iterator[TSDB]:
    db = TSDB(tmp_path / "data", TSDBOptions())
    db.open()
    yield db
    db.close()


@dataclass
class FakeTarget:
    """A loopback /metrics page whose body, status and encoding a test changes between scrapes."""

    body: str = ""
    content_type: str = "text/plain; version=0.0.4; charset=utf-8"
    status: int = 200
    gzip: bool = False
    requests: list[web.Request] = field(default_factory=list)
    address: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        data = self.body.encode()
        headers = {"Content-Type": self.content_type}
        if self.gzip:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=data, status=self.status, headers=headers)


@pytest.fixture
async def make_target() -> AsyncIterator:
    """Factory: `await make_target(body)` starts a FakeTarget on 127.0.0.1 and returns it."""
    runners: list[web.AppRunner] = []

    async def start(body: str = "", **kw: object) -> FakeTarget:
        target = FakeTarget(body=body, **kw)  # type: ignore[arg-type]
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", target.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        target.address = f"127.0.0.1:{port}"
        return target

    yield start
    for runner in runners:
        await runner.cleanup()
