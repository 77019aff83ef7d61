"""A FastAPI app with some of pharos' push-side routes and a real TSDB in a tmp dir, served by
uvicorn on 127.0.0.1 in a thread (shared by tests/pushgateway, remote, otlp, federate)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import uvicorn
from fastapi import FastAPI

from pharos.config.loader import parse_config
from pharos.metrics.model import Matcher, MatchOp, make_labels
from pharos.metrics.tsdb.db import TSDB, TSDBOptions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_runtime(data_dir: Path, config_text: str = "global:\n  scrape_interval: 15s\n") -> SimpleNamespace:
    """The parts of pharos.server.runtime.Runtime the push side uses, with an open TSDB."""
    data_dir.mkdir(parents=True, exist_ok=True)
    tsdb = TSDB(data_dir, TSDBOptions(wal_fsync_interval_s=60))
    tsdb.open()
    return SimpleNamespace(
        tsdb=tsdb,
        loaded=parse_config(config_text, filename=str(data_dir / "pharos.yml")),
        opts=SimpleNamespace(data_dir=data_dir),
    )


class LiveServer:
    """uvicorn serving `app` in a thread; `call()` runs a coroutine on the server's loop."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        for _attempt in range(3):  # a free port can be taken by another process before we bind it
            self.port = port or free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
            self.server = uvicorn.Server(config)
            self.thread = threading.Thread(target=self.server.run, daemon=True)
            self.thread.start()
            if self._wait_started():
                break
        else:
            raise AssertionError("uvicorn did not start")
        self.loop: asyncio.AbstractEventLoop = self.server.servers[0].get_loop()

    def _wait_started(self, timeout: float = 60) -> bool:
        """True once serving; False when the server thread gave up (e.g. the port was taken)."""
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def call(self, factory: Callable[[], Coroutine[Any, Any, Any]], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


def read_all(tsdb: TSDB, **eq: str) -> dict[tuple[tuple[str, str], ...], list[tuple[int, float]]]:
    """Every series matching the equality matchers with all its samples."""
    matchers = [Matcher(n, MatchOp.EQUAL, v) for n, v in eq.items()] or [
        Matcher("__name__", MatchOp.REGEX, ".+")
    ]
    out = {}
    for s in tsdb.select(matchers, 0, 2**62):
        out[s.labels] = list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
    return out


def append(tsdb: TSDB, labels: dict[str, str], ts: list[int], values: list[float]) -> None:
    ref = tsdb.get_ref(make_labels(labels))
    tsdb.append(np.full(len(ts), ref, dtype=np.uint32), np.array(ts, dtype=np.int64), np.array(values))
