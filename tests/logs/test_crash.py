"""kill -9 during a stream of pushes: every acknowledged (204) line is there after reopening."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from loghelp import NS, _free_port, now_ns

from pharos.storage.logs import LogStore, ScanSpec

HERE = Path(__file__).parent


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "server died"
        try:
            httpx.get(url + "/loki/api/v1/labels", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise AssertionError("server did not start")


def test_kill9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data, port = tmp_path / "logs", _free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, str(HERE / "crash_server.py"), str(data), str(port)], env=env)
    acked: set[tuple[str, int, str]] = set()
    t0 = now_ns()
    try:
        _wait_up(url, proc)
        with httpx.Client(base_url=url, timeout=5) as client:
            for i in range(300):
                if i == 150:
                    client.post("/flush")  # some lines reach blocks, the rest stay in the WAL
                values = [[str(t0 + (i * 10 + j) * 1000), f"line {i}-{j}"] for j in range(10)]
                app = f"s{i % 4}"
                r = client.post("/loki/api/v1/push", json={"streams": [{"stream": {"app": app}, "values": values}]})
                assert r.status_code == 204, r.text
                acked.update((app, int(v[0]), v[1]) for v in values)
                if i == 250:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
    finally:
        proc.kill()
        proc.wait()
    store = LogStore(data)
    store.open()
    try:
        streams = store.streams("fake")
        table = store.scan("fake", ScanSpec(list(range(len(streams))), 0, 2**62))
        found = {(streams[s]["app"], t, ln) for s, t, ln in zip(table.column("stream").to_pylist(),
                                                               table.column("ts").to_pylist(),
                                                               table.column("line").to_pylist(), strict=True)}
        assert acked <= found, f"lost {len(acked - found)} of {len(acked)} acknowledged lines"
        assert len(found) == table.num_rows  # no duplicates from replaying flushed segments
    finally:
        store.close()
    assert NS
