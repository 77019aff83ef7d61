"""pharos' own /metrics: the process-wide prometheus_client registry (process, Python, scrape
metrics) plus per-server figures (TSDB, config reloads, build) under `pharos_*`."""

from __future__ import annotations

import asyncio
import platform
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, generate_latest

from pharos import __version__
from pharos.metrics.exposition.writer import Exposition

if TYPE_CHECKING:
    from pharos.server.runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# tsdb.stats()["pharos"] key -> (metric name, help); the `_total` ones are counters
_TSDB_FIGURES: dict[str, tuple[str, str]] = {
    "samples_appended_total": ("pharos_tsdb_samples_appended_total", "Samples appended to the TSDB."),
    "samples_rejected_total": (
        "pharos_tsdb_samples_rejected_total",
        "Samples rejected (out of order, duplicate, out of bounds).",
    ),
    "head_series": ("pharos_tsdb_head_series", "Series with samples in the head."),
    "head_samples": ("pharos_tsdb_head_samples", "Samples held in the in-memory head."),
    "wal_bytes": ("pharos_tsdb_wal_bytes", "Size of the write-ahead log on disk."),
    "blocks": ("pharos_tsdb_blocks_loaded", "Blocks and parts on disk."),
    "blocks_level1": ("pharos_tsdb_blocks_compacted", "Compacted (level 1+) blocks on disk."),
    "disk_bytes": ("pharos_tsdb_storage_blocks_bytes", "Bytes used by blocks on disk."),
}


def server_metrics(runtime: Runtime, tsdb_stats: dict[str, float]) -> str:
    """Build, readiness, reload and TSDB figures in the text format."""
    exp = Exposition()
    build = {"version": __version__, "python_version": platform.python_version()}
    exp.add("pharos_build_info", "gauge", "pharos build information.", 1, build)
    exp.add("pharos_ready", "gauge", "1 when the TSDB is open and serving.", int(runtime.is_ready()))
    for name, kind, help_, value in (
        (
            "pharos_config_last_reload_successful",
            "gauge",
            "Whether the last configuration reload attempt was successful.",
            int(runtime.reload_success),
        ),
        (
            "pharos_config_last_reload_success_timestamp_seconds",
            "gauge",
            "Timestamp of the last successful configuration reload.",
            runtime.last_config_time,
        ),
        ("pharos_config_reloads_total", "counter", "Configuration reloads attempted.", runtime.reloads_total),
        (
            "pharos_config_reload_failures_total",
            "counter",
            "Configuration reloads that failed.",
            runtime.reload_failures_total,
        ),
    ):
        exp.add(name, kind, help_, value)
    for key, (name, help_) in _TSDB_FIGURES.items():
        if key in tsdb_stats:
            exp.add(name, "counter" if name.endswith("_total") else "gauge", help_, tsdb_stats[key])
    return exp.render()


class SelfMetrics:
    """Renders the exposition text for GET /metrics."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def _tsdb_stats(self) -> dict[str, float]:
        """The TSDB figures (in a worker thread: stats() walks the postings)."""
        tsdb = self.runtime.tsdb
        return dict(tsdb.stats().get("pharos", {})) if tsdb is not None else {}

    async def render(self) -> bytes:
        """Process-wide metrics, this server's, then those of components with `metrics_text()`."""
        own = server_metrics(self.runtime, await asyncio.to_thread(self._tsdb_stats))
        extra = "".join(c.metrics_text() for c in self.runtime.components if hasattr(c, "metrics_text"))
        return generate_latest(REGISTRY) + (own + extra).encode()
