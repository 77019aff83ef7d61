"""Helpers: a log store in tmp_path served by uvicorn on 127.0.0.1 with the Loki router."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI

from pharos.logs.api import LokiAPI, register
from pharos.logs.limits import LimitsConfig
from pharos.storage.logs import LogStore

NS = 1_000_000_000


@dataclass
class Server:
    """A running test server: base URL, client, store and API handler."""

    url: str
    client: httpx.Client
    store: LogStore
    api: LokiAPI

    def push(self, streams: list[dict], tenant: str | None = None) -> httpx.Response:
        headers = {"X-Scope-OrgID": tenant} if tenant else {}
        return self.client.post("/loki/api/v1/push", json={"streams": streams}, headers=headers)

    def get(self, path: str, tenant: str | None = None, **params: object) -> httpx.Response:
        headers = {"X-Scope-OrgID": tenant} if tenant else {}
        return self.client.get(path, params=params, headers=headers)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(store: LogStore, limits: LimitsConfig | None = None) -> Iterator[Server]:
    """Run the router on a real port until the generator is closed."""
    app = FastAPI()
    api = register(app, lambda: store, limits)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url, timeout=30) as client:
        yield Server(url, client, store, api)
    server.should_exit = True
    thread.join(timeout=10)


def now_ns() -> int:
    """A recent, whole-second timestamp (ns) so pushes pass the age checks."""
    return (time.time_ns() // NS - 600) * NS
