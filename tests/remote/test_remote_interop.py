"""The real prometheus 2.42 remote-writes into pharos: every series and sample up to a cut-off
that Prometheus holds, pharos holds too; then Prometheus answers a query from pharos by remote read."""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import pytest
from live_server import append, read_all
from prom_proc import Prometheus
from remote_helpers import Live

pytestmark = pytest.mark.interop

WRITER = """
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['$SELF']
remote_write:
  - url: {url}/api/v1/write
    queue_config:
      batch_send_deadline: 200ms
      max_samples_per_send: 2000
"""
READER = """
global:
  scrape_interval: 1h
remote_read:
  - url: {url}/api/v1/read
    read_recent: true
"""


def bits(series: dict[Any, list[tuple[int, float]]]) -> dict[Any, list[tuple[int, bytes]]]:
    """Samples with values as their IEEE bits, so NaNs (and stale markers) compare exactly."""
    return {k: [(t, struct.pack("<d", v)) for t, v in samples] for k, samples in series.items()}


def wait_until(check, timeout: float, what: str, detail=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {detail()}"
        time.sleep(0.25)


def test_prometheus_remote_writes_into_pharos_and_reads_back(live: Live, tmp_path: Path) -> None:
    prom = Prometheus(tmp_path, WRITER.format(url=live.url))
    try:
        wait_until(lambda: len(prom.read(0, 2**62, "up")) == 1, 30, "Prometheus to scrape itself")
        time.sleep(4)  # a few scrapes
        cutoff = int(time.time() * 1000) - 1000
        theirs = bits(prom.read(0, cutoff))
        assert len(theirs) > 100 and sum(map(len, theirs.values())) > 400

        diff: list[str] = []

        def caught_up() -> bool:
            ours = bits({k: [s for s in v if s[0] <= cutoff] for k, v in read_all(live.runtime.tsdb).items()})
            ours = {k: v for k, v in ours.items() if v}
            diff[:] = [
                f"{k}: ours {ours.get(k)} theirs {theirs.get(k)}"
                for k in set(ours) | set(theirs)
                if ours.get(k) != theirs.get(k)
            ]
            return not diff

        wait_until(caught_up, 30, "pharos to hold what Prometheus holds", lambda: "\n".join(diff[:10]))
        # remote read: Prometheus queries a series only pharos has
        t = int(time.time() * 1000)
        append(live.runtime.tsdb, {"__name__": "only_in_pharos", "job": "x"}, [t - 1000], [42.5])
        prom.reload(READER.format(url=live.url))
        r = prom.client.get("/api/v1/query", params={"query": "only_in_pharos", "time": t / 1000})
        result = r.json()["data"]["result"]
        assert result == [{"metric": {"__name__": "only_in_pharos", "job": "x"}, "value": [t / 1000, "42.5"]}]
    finally:
        prom.stop()


SENDER = """
global:
  scrape_interval: 15s
  external_labels: {{cluster: c1}}
remote_write:
  - url: http://127.0.0.1:{port}/api/v1/write
    queue_config: {{batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 500ms}}
"""


@pytest.mark.parametrize("outage_s", [0.0, 60.0], ids=["receiver-starts-late", "receiver-down-60s"])
def test_pharos_remote_writes_into_prometheus_through_an_outage(
    live: Live, tmp_path: Path, outage_s: float
) -> None:
    """Samples appended while the receiver is down (at first briefly, then for the issue's 60 s)
    arrive once it is up, none lost."""
    from live_server import free_port, make_runtime
    from test_remote_sender import write_batches

    from pharos.metrics.remote import RemoteWriteManager

    port = free_port()
    source = make_runtime(tmp_path / "a", SENDER.format(port=port))
    manager = RemoteWriteManager(source)
    live.server.call(manager.start)
    prom = None
    try:
        wait_until(lambda: manager.tailer is not None, 10, "the sender to start")
        t0 = int(time.time() * 1000) - 60_000
        write_batches(source.tsdb, 10, t0, pause=0.1)  # the receiver is not up yet
        wait_until(lambda: manager.queues[0].stats.samples_retried > 0, 10, "a retry")
        time.sleep(outage_s)
        prom = Prometheus(
            tmp_path / "prom",
            "global:\n  scrape_interval: 1h\n",
            ("--web.enable-remote-write-receiver",),
            port=port,
        )
        write_batches(source.tsdb, 10, t0 + 10_000)
        want = bits({tuple(sorted((*k, ("cluster", "c1")))): v for k, v in read_all(source.tsdb).items()})
        wait_until(lambda: bits(prom.read(0, 2**62)) == want, 30, "Prometheus to hold what pharos sent")
        assert len(want) == 51 and manager.queues[0].stats.samples_failed == 0
    finally:
        live.server.call(manager.stop)
        source.tsdb.close()
        if prom is not None:
            prom.stop()
