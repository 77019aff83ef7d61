"""Helpers shared by the alertmanager tests: a local HTTP receiver and alert builder."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from pharos.alertmanager.clock import FakeClock
from pharos.alertmanager.model import Alert


class Receiver:
    """Collects JSON bodies POSTed to any path; `statuses` are answered first (then 200)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []
        self.statuses: list[int] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append((request.path, await request.json()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok")

    def on(self, path: str) -> list[Any]:
        """Bodies received on one path."""
        return [b for p, b in self.bodies if p == path]


def alert(clock: FakeClock, ago: float = 0, ends_in: float | None = None, **labels: str) -> Alert:
    """An alert that started `ago` seconds before now; `ends_in` seconds from now (None: unset)."""
    now = clock.now()
    ends = now + timedelta(seconds=ends_in) if ends_in is not None else Alert(labels).ends_at
    return Alert(labels=dict(labels), annotations={"summary": "s"}, starts_at=now - timedelta(seconds=ago),
                 ends_at=ends, generator_url="http://prom/graph")
