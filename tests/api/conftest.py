"""In-process API fixtures: the real app and TSDB on a tmp data dir, samples appended directly,
and a stand-in scrape manager with fixed targets and metadata."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from pharos.config.loader import parse_config
from pharos.metrics.model import make_labels
from pharos.metrics.scrape.manager import DroppedTarget, MetricMetadataEntry, TargetsSnapshot, TargetStatus
from pharos.server.app import create_app
from pharos.server.options import ServerOptions
from pharos.server.runtime import Runtime

CONFIG = "global:\n  scrape_interval: 15s\nscrape_configs: []\n"
T0 = 1_700_000_000_000  # ms


class FakeScrape:
    """Fixed targets and metadata in the ScrapeManager contract's shapes."""

    def __init__(self) -> None:
        self.target = make_labels({"job": "app", "instance": "h:1"})
        self.other = make_labels({"job": "node", "instance": "h:2"})

    def targets(self) -> TargetsSnapshot:
        return TargetsSnapshot(
            active=[
                TargetStatus(
                    discovered_labels={"__address__": "h:2", "job": "node"},
                    labels={"instance": "h:2", "job": "node"},
                    scrape_pool="node",
                    scrape_url="http://h:2/metrics",
                    global_url="http://h:2/metrics",
                    last_error="connection refused",
                    last_scrape=1_700_000_000.25,
                    last_scrape_duration=0.0123,
                    health="down",
                    scrape_interval=90.0,
                    scrape_timeout=10.0,
                ),
                TargetStatus(
                    discovered_labels={"__address__": "h:1", "job": "app"},
                    labels={"instance": "h:1", "job": "app"},
                    scrape_pool="app",
                    scrape_url="http://h:1/metrics",
                    global_url="http://h:1/metrics",
                    last_error="",
                    last_scrape=0.0,
                    last_scrape_duration=0.0,
                    health="unknown",
                    scrape_interval=15.0,
                    scrape_timeout=10.0,
                ),
            ],
            dropped=[DroppedTarget(discovered_labels={"__address__": "h:3", "job": "app"})],
        )

    def metadata(self) -> list[MetricMetadataEntry]:
        return [
            MetricMetadataEntry(self.target, "http_requests_total", "counter", "Requests.", ""),
            MetricMetadataEntry(self.target, "temperature", "gauge", "Temperature.", "celsius"),
            MetricMetadataEntry(self.other, "http_requests_total", "counter", "Requests.", ""),
            MetricMetadataEntry(self.other, "http_requests_total", "counter", "HTTP requests.", ""),
        ]

    async def apply_config(self, config: object) -> None:
        return None

    async def stop(self) -> None:
        return None


def add_series(runtime: Runtime, labels: dict[str, str], ts: list[int], values: list[float]) -> None:
    """Append samples for one series straight into the TSDB."""
    assert runtime.tsdb is not None
    ref = runtime.tsdb.get_ref(make_labels(labels))
    refs = np.full(len(ts), ref, dtype=np.uint32)
    runtime.tsdb.append(refs, np.array(ts, dtype=np.int64), np.array(values, dtype=np.float64))


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    opts = ServerOptions(data_dir=tmp_path / "data", port=9494, config_file=tmp_path / "pharos.yml")
    return Runtime(opts, parse_config(CONFIG, filename=str(tmp_path / "pharos.yml")))


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """A client of the real app, ready, with the fake scrape manager in place."""
    with TestClient(create_app(runtime)) as test_client:
        deadline = time.monotonic() + 30
        while not runtime.is_ready():
            assert runtime.startup_error is None, runtime.startup_error
            assert time.monotonic() < deadline, "TSDB did not open"
            time.sleep(0.02)
        runtime.scrape = FakeScrape()  # type: ignore[assignment]
        yield test_client
