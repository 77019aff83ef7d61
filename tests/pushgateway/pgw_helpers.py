"""Start/stop a live pharos Pushgateway (routes + real TSDB in a tmp dir) on 127.0.0.1."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_server import LiveServer, make_runtime

from pharos.metrics import pushgateway
from pharos.metrics.pushgateway import PushgatewayService


@dataclass
class Pgw:
    server: LiveServer
    service: PushgatewayService
    runtime: SimpleNamespace
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url


def start_pgw(data_dir: Path, config: str = "global:\n  scrape_interval: 15s\n") -> Pgw:
    runtime = make_runtime(data_dir, config)
    app = FastAPI()
    service = pushgateway.register(app, runtime)
    server = LiveServer(app)
    return Pgw(server, service, runtime, httpx.Client(base_url=server.url, timeout=30))


def stop_pgw(p: Pgw) -> None:
    p.server.call(p.service.stop)
    p.client.close()
    p.server.stop()
    p.runtime.tsdb.close()
