"""Runs the remote-write queues of the config in force: follows the WAL, feeds every queue,
exposes the queues' metrics. `start()`/`stop()` are the server's hooks; `reload()` re-reads."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from pharos.metrics.model import escape_label_value
from pharos.metrics.remote.config import external_labels, remote_write_configs
from pharos.metrics.remote.sender import QueueManager
from pharos.metrics.remote.wal_tail import WalTailer
from pharos.tasks import cancel

log = logging.getLogger("pharos.remote")
POLL_INTERVAL_S = 0.1


class RemoteWriteManager:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.queues: list[QueueManager] = []
        self.tailer: WalTailer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Begin once the TSDB is open; samples appended from then on are sent."""
        self._task = asyncio.create_task(self._run(), name="pharos-remote-write")

    async def stop(self, flush_deadline: float = 5.0) -> None:
        """Stop reading, give the queues `flush_deadline` seconds to send what they hold."""
        await cancel(self._task)
        self._task = None
        if self.tailer is not None:
            self._feed(await asyncio.to_thread(self.tailer.poll, 1 << 30))
            self.tailer.close()
        await asyncio.gather(*(q.stop(flush_deadline) for q in self.queues))
        self.queues = []

    async def reload(self) -> None:
        """Apply a changed remote_write section (queues restart; pending samples are flushed)."""
        await self.stop()
        await self.start()

    async def _run(self) -> None:
        while self.runtime.tsdb is None:
            await asyncio.sleep(POLL_INTERVAL_S)
        configs = remote_write_configs(self.runtime)
        if not configs:
            return
        tsdb = self.runtime.tsdb
        self.tailer = WalTailer(Path(tsdb.data_dir) / "wal")
        self.tailer.seek_end()
        ext = external_labels(self.runtime)
        self.queues = [QueueManager(cfg, tsdb.registry.labels, ext) for cfg in configs]
        for q in self.queues:
            await q.start()
        log.info("remote write: %d queues started", len(self.queues))
        while True:
            self._feed(await asyncio.to_thread(self.tailer.poll))
            await asyncio.sleep(POLL_INTERVAL_S)

    def _feed(self, records: list[Any]) -> None:
        for rec in records:
            for q in self.queues:
                q.feed(rec)

    # -- metrics -----------------------------------------------------------------------------
    def render_metrics(self) -> str:
        """The queues' metrics in the Prometheus text format (Prometheus's names and labels)."""
        rows: list[tuple[str, str, str, float]] = []
        for q in self.queues:
            s = q.stats
            lag = max(0.0, (s.highest_in_ms - s.highest_sent_ms) / 1000) if s.highest_in_ms else 0.0
            values = {
                "prometheus_remote_storage_samples_in_total": ("counter", s.samples_in),
                "prometheus_remote_storage_samples_total": ("counter", s.samples_sent),
                "prometheus_remote_storage_samples_failed_total": ("counter", s.samples_failed),
                "prometheus_remote_storage_samples_retried_total": ("counter", s.samples_retried),
                "prometheus_remote_storage_samples_dropped_total": ("counter", s.samples_dropped),
                "prometheus_remote_storage_samples_pending": ("gauge", q.pending()),
                "prometheus_remote_storage_bytes_total": ("counter", s.bytes_sent),
                "prometheus_remote_storage_shards": ("gauge", s.shards),
                "prometheus_remote_storage_highest_timestamp_in_seconds": ("gauge", s.highest_in_ms / 1000),
                "prometheus_remote_storage_queue_highest_sent_timestamp_seconds": (
                    "gauge",
                    s.highest_sent_ms / 1000,
                ),
                "pharos_remote_storage_lag_seconds": ("gauge", lag),
            }
            labels = f'remote_name="{escape_label_value(q.name)}",url="{escape_label_value(q.cfg.url)}"'
            rows.extend((name, kind, labels, float(v)) for name, (kind, v) in values.items())
        out: list[str] = []
        for name in dict.fromkeys(r[0] for r in rows):
            kind = next(r[1] for r in rows if r[0] == name)
            out.append(f"# TYPE {name} {kind}")
            out.extend(f"{name}{{{lab}}} {v!r}" for n, _, lab, v in rows if n == name)
        return "\n".join(out) + ("\n" if out else "")
