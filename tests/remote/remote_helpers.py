"""A live app with the remote-write receiver and remote read on a real TSDB in tmp_path."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import httpx
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pushgateway"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_server import LiveServer, make_runtime

from pharos.metrics import remote


@dataclass
class Live:
    server: LiveServer
    runtime: SimpleNamespace
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url


def start_live(data_dir: Path, config: str = "global:\n  scrape_interval: 15s\n") -> Live:
    runtime = make_runtime(data_dir, config)
    app = FastAPI()
    remote.register(app, runtime)
    server = LiveServer(app)
    return Live(server, runtime, httpx.Client(base_url=server.url, timeout=30))


def stop_live(live: Live) -> None:
    live.client.close()
    live.server.stop()
    live.runtime.tsdb.close()
