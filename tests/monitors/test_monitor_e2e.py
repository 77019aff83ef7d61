"""End to end: a real `pharos server` evaluates monitors and their alerts reach a webhook
receiver (a local aiohttp server) through pharos' own Alertmanager routing."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from pharos_testproc import PharosProcess, wait_for

PREFIX = "/api/pharos/v1/monitors"


class Webhook:
    """An aiohttp receiver on 127.0.0.1 in its own thread; keeps every JSON body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self.url = ""
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self._ready.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"

    async def _handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        return web.Response(text="ok")

    def alerts(self, alertname: str, status: str) -> list[dict[str, Any]]:
        """Alerts of that name with that status, over every body received."""
        return [a for b in list(self.bodies) for a in b["alerts"]
                if a["labels"].get("alertname") == alertname and a["status"] == status]

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def config(hook: str) -> str:
    return f"""
global:
  scrape_interval: 1s
monitors:
  - name: level-high
    type: metric
    query: max(level)
    interval: 1s
    thresholds: {{critical: 3, warning: 2}}
    labels: {{team: storage}}
    message: "level {{{{ $value }}}} over {{{{ $threshold }}}}"
alertmanager:
  route:
    receiver: hook
    group_by: [alertname, severity]
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1h
  receivers:
    - name: hook
      webhook_configs: [{{url: "{hook}", send_resolved: true}}]
"""


def test_monitor_alert_reaches_webhook_and_resolves(tmp_path: Path, webhook: Webhook) -> None:
    cfg = tmp_path / "pharos.yml"
    cfg.write_text(config(webhook.url))
    proc = PharosProcess(tmp_path, "server", ["--config", str(cfg)])
    try:
        proc.wait_ready()
        assert proc.client.put("/metrics/job/tank", content=b"level 5\n").status_code == 200
        wait_for(lambda: webhook.alerts("level-high", "firing"), timeout=60, what="a firing alert")
        alert = webhook.alerts("level-high", "firing")[0]
        assert alert["labels"] == {"alertname": "level-high", "severity": "critical", "monitor_type": "metric",
                                   "team": "storage"}
        assert alert["annotations"]["message"] == "level 5 over 3"
        state = proc.client.get(f"{PREFIX}/level-high").json()
        assert state["state"] == "ALERT" and state["source"] == "config"

        proc.client.put("/metrics/job/tank", content=b"level 1\n")
        wait_for(lambda: webhook.alerts("level-high", "resolved"), timeout=60, what="the resolved alert")
        hist = proc.client.get(f"{PREFIX}/level-high/history").json()["transitions"]
        assert ("ALERT", "OK") in [(t["from"], t["to"]) for t in hist]

        body = {"name": "api-level", "type": "metric", "query": "max(level)", "interval": 1,
                "thresholds": {"critical": 0.5}}
        assert proc.client.post(PREFIX, json=body).status_code == 201
        wait_for(lambda: webhook.alerts("api-level", "firing"), timeout=60, what="the API monitor's alert")
    finally:
        proc.stop()
    again = PharosProcess(tmp_path, "server", ["--config", str(cfg)], data_dir=proc.data_dir)
    try:
        again.wait_ready()
        doc = again.client.get(f"{PREFIX}/api-level").json()
        assert doc["source"] == "api" and doc["definition"]["thresholds"]["critical"] == 0.5
    finally:
        again.stop()
