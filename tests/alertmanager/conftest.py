"""Fixtures for the alertmanager tests: a local HTTP receiver on 127.0.0.1 and an Alertmanager
on a controllable clock."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))

from am_helpers import Receiver

from pharos.alertmanager.clock import FakeClock
from pharos.alertmanager.config import parse_text
from pharos.alertmanager.core import Alertmanager


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_am(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Callable[..., Alertmanager]]:
    """make_am(yaml_text) -> an Alertmanager with state in tmp_path/state on the fake clock."""
    made: list[Alertmanager] = []

    def make(text: str, state: Path | None = None) -> Alertmanager:
        am = Alertmanager(parse_text(text), state or tmp_path / "state", clock=clock,
                          external_url="http://pharos.test", sleep=_no_sleep)
        made.append(am)
        return am

    yield make
    for am in made:
        await am.pipeline.close()
