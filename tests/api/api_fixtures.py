"""Shared pieces of the in-process API tests: a stand-in scrape manager and sample seeding."""

from __future__ import annotations

import numpy as np

from pharos.metrics.model import make_labels
from pharos.metrics.scrape.manager import DroppedTarget, MetricMetadataEntry, TargetsSnapshot, TargetStatus
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
