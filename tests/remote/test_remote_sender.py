"""The remote-write sender: pharos A's accepted samples arrive in pharos B (relabelled, with
external labels and credentials), an outage of the receiver loses nothing, metrics count it."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from fastapi import FastAPI
from live_server import LiveServer, append, free_port, make_runtime, read_all
from remote_helpers import Live
from starlette.requests import Request

from pharos.metrics import remote
from pharos.metrics.remote import RemoteWriteManager

CONFIG = """
global:
  scrape_interval: 15s
  external_labels: {{cluster: c1}}
remote_write:
  - url: {url}/api/v1/write
    name: to-b
    basic_auth: {{username: user, password: secret}}
    headers: {{X-Scope-OrgID: tenant-1}}
    write_relabel_configs:
      - source_labels: [__name__]
        regex: secret_.*
        action: drop
    queue_config:
      batch_send_deadline: 100ms
      max_samples_per_send: 500
      min_backoff: 50ms
      max_backoff: 200ms
"""
T0 = 1_800_000_000_000


def wait_until(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def receiver(tmp: Path, port: int | None = None) -> tuple[LiveServer, object, list[dict[str, str]]]:
    """pharos B: the receiver, recording the headers it is sent."""
    runtime = make_runtime(tmp)
    app = FastAPI()
    seen: list[dict[str, str]] = []

    @app.middleware("http")
    async def record(request: Request, call_next):
        seen.append(dict(request.headers))
        return await call_next(request)

    remote.register(app, runtime)
    return LiveServer(app, port), runtime, seen


def write_batches(tsdb, n_batches: int, t0: int, pause: float = 0.0) -> None:
    refs = [tsdb.get_ref((("__name__", "m"), ("i", str(i)))) for i in range(50)]
    refs.append(tsdb.get_ref((("__name__", "secret_token"), ("i", "0"))))
    for b in range(n_batches):
        vals = np.arange(len(refs), dtype=np.float64) + b
        tsdb.append(np.array(refs, dtype=np.uint32), np.array([t0 + b * 1000], dtype=np.int64), vals)
        time.sleep(pause)


def expected(tsdb) -> dict:
    out = {}
    for labels, samples in read_all(tsdb).items():
        if dict(labels)["__name__"].startswith("secret_"):
            continue
        out[tuple(sorted((*labels, ("cluster", "c1"))))] = samples
    return out


def test_sender_delivers_relabelled_with_credentials(tmp_path: Path) -> None:
    server, b_runtime, seen = receiver(tmp_path / "b")
    a = make_runtime(tmp_path / "a", CONFIG.format(url=server.url))
    manager = RemoteWriteManager(a)
    server.call(manager.start)
    try:
        wait_until(lambda: manager.tailer is not None)
        write_batches(a.tsdb, 20, T0)
        append(a.tsdb, {"__name__": "m", "i": "x", "cluster": "own"}, [T0], [1.0])  # keeps its cluster
        want = expected(a.tsdb)
        want[(("__name__", "m"), ("cluster", "own"), ("i", "x"))] = [(T0, 1.0)]
        del want[(("__name__", "m"), ("cluster", "c1"), ("cluster", "own"), ("i", "x"))]
        wait_until(lambda: read_all(b_runtime.tsdb) == want)
        assert len(want) == 51 and sum(map(len, want.values())) == 50 * 20 + 1
        writes = [h for h in seen if h.get("content-encoding") == "snappy"]
        assert writes[0]["authorization"] == "Basic dXNlcjpzZWNyZXQ="
        assert writes[0]["x-scope-orgid"] == "tenant-1"
        assert writes[0]["x-prometheus-remote-write-version"] == "0.1.0"
        text = manager.render_metrics()
        assert 'prometheus_remote_storage_samples_total{remote_name="to-b",url="' in text
        q = manager.queues[0].stats
        assert (q.samples_sent, q.samples_dropped, q.samples_failed) == (1001, 20, 0)
    finally:
        server.call(manager.stop)
        server.stop()
        a.tsdb.close()
        b_runtime.tsdb.close()


def test_receiver_outage_loses_nothing(tmp_path: Path, live: Live) -> None:
    port = free_port()
    a = make_runtime(tmp_path / "a", CONFIG.format(url=f"http://127.0.0.1:{port}"))
    manager = RemoteWriteManager(a)
    live.server.call(manager.start)  # any running loop serves the sender
    server = None
    try:
        wait_until(lambda: manager.tailer is not None)
        write_batches(a.tsdb, 10, T0, pause=0.1)  # receiver down: retried with backoff
        wait_until(lambda: manager.queues[0].stats.samples_retried > 0)
        assert manager.queues[0].stats.samples_sent == 0
        server, b_runtime, _ = receiver(tmp_path / "b", port)
        write_batches(a.tsdb, 5, T0 + 10_000)
        want = expected(a.tsdb)
        wait_until(lambda: read_all(b_runtime.tsdb) == want)
        assert manager.queues[0].pending() == 0
        assert "connect" in manager.queues[0].stats.last_error.lower()
    finally:
        live.server.call(manager.stop)
        if server is not None:
            server.stop()
            b_runtime.tsdb.close()
        a.tsdb.close()
