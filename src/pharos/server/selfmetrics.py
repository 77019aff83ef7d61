"""pharos' own /metrics: the process-wide prometheus_client registry (process, Python, scrape
metrics) plus per-server figures (TSDB, config reloads, build) under `pharos_*`."""

from __future__ import annotations

import asyncio
import platform
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pharos import __version__

if TYPE_CHECKING:
    from pharos.server.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# tsdb.stats()["pharos"] key -> (metric name, help, is counter)
_TSDB_FIGURES: dict[str, tuple[str, str, bool]] = {
    "samples_appended_total": ("pharos_tsdb_samples_appended", "Samples appended to the TSDB.", True),
    "samples_rejected_total": (
        "pharos_tsdb_samples_rejected",
        "Samples rejected (out of order, duplicate, out of bounds).",
        True,
    ),
    "head_series": ("pharos_tsdb_head_series", "Series with samples in the head.", False),
    "head_samples": ("pharos_tsdb_head_samples", "Samples held in the in-memory head.", False),
    "wal_bytes": ("pharos_tsdb_wal_bytes", "Size of the write-ahead log on disk.", False),
    "blocks": ("pharos_tsdb_blocks_loaded", "Blocks and parts on disk.", False),
    "blocks_level1": ("pharos_tsdb_blocks_compacted", "Compacted (level 1+) blocks on disk.", False),
    "disk_bytes": ("pharos_tsdb_storage_blocks_bytes", "Bytes used by blocks on disk.", False),
}


class ServerCollector(Collector):
    """Reads the runtime on each collection; TSDB figures come from `tsdb.stats()`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.tsdb_stats: dict[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        """Yield build, readiness, reload and TSDB metric families."""
        rt = self.runtime
        build = GaugeMetricFamily(
            "pharos_build_info", "pharos build information.", labels=["version", "python_version"]
        )
        build.add_metric([__version__, platform.python_version()], 1)
        yield build
        yield GaugeMetricFamily(
            "pharos_ready", "1 when the TSDB is open and serving.", value=int(rt.is_ready())
        )
        yield GaugeMetricFamily(
            "pharos_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            value=int(rt.reload_success),
        )
        yield GaugeMetricFamily(
            "pharos_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            value=rt.last_config_time,
        )
        yield CounterMetricFamily(
            "pharos_config_reloads", "Configuration reloads attempted.", value=rt.reloads_total
        )
        yield CounterMetricFamily(
            "pharos_config_reload_failures",
            "Configuration reloads that failed.",
            value=rt.reload_failures_total,
        )
        yield from self._tsdb_families()

    def _tsdb_families(self) -> Iterator[Metric]:
        for key, (name, doc, counter) in _TSDB_FIGURES.items():
            if key not in self.tsdb_stats:
                continue
            family = CounterMetricFamily if counter else GaugeMetricFamily
            yield family(name, doc, value=self.tsdb_stats[key])

    def refresh(self) -> None:
        """Read the TSDB figures (in a worker thread: stats() walks the postings)."""
        tsdb = self.runtime.tsdb
        self.tsdb_stats = dict(tsdb.stats().get("pharos", {})) if tsdb is not None else {}


class SelfMetrics:
    """Renders the exposition text for GET /metrics."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.collector = ServerCollector(runtime)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)

    async def render(self) -> bytes:
        """Process-wide metrics, this server's, then those of components with `metrics_text()`."""
        await asyncio.to_thread(self.collector.refresh)
        extra = "".join(c.metrics_text() for c in self.runtime.components if hasattr(c, "metrics_text"))
        return generate_latest(REGISTRY) + generate_latest(self.registry) + extra.encode()
