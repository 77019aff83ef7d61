"""A real uvicorn server on 127.0.0.1 serving the query API over a MemoryQuerier (in a thread)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from pharos.metrics.promql.engine import Limits
from pharos.metrics.promql.http import query_router
from pharos.metrics.promql.memory import MemoryQuerier


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(store: MemoryQuerier, limits: Limits | None = None) -> Iterator[str]:
    """Yield the base URL of a running server; stop it afterwards."""
    app = FastAPI()
    app.include_router(query_router(lambda: store, limits))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
