"""The Pushgateway's background side: the group store, its periodic save, TTL expiry, and the
ingestion of every group into the TSDB each scrape interval, as Prometheus scraping a Pushgateway
with `honor_labels: true` stores it (job/instance from the grouping key; `instance=""` dropped)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from pharos.metrics.model import METRIC_NAME, STALE_NAN, Labels, make_labels
from pharos.metrics.pushgateway.store import GroupStore

log = logging.getLogger("pharos.pushgateway")
SAVE_INTERVAL_S = 1.0


class PushgatewayService:
    """Owns the groups; `start()`/`stop()` run the save and ingest loops."""

    def __init__(self, runtime: Any, data_dir: Path | None = None) -> None:
        self.runtime = runtime
        base = Path(data_dir if data_dir is not None else runtime.opts.data_dir)
        self.store = GroupStore(base / "pushgateway" / "groups.json")
        self._refs: dict[Labels, int] = {}
        self._live = np.zeros(0, dtype=np.uint32)
        self._tasks: list[asyncio.Task[None]] = []
        self._tsdb: Any = None
        self.ingests = 0

    # -- settings ----------------------------------------------------------------------------
    def interval(self) -> float:
        """The global scrape interval of the config in force."""
        return float(self.runtime.loaded.config.global_.scrape_interval)

    def default_ttl(self) -> float | None:
        """`pushgateway: {group_ttl: 1h}` in pharos.yml; None (never expire) by default."""
        ttl: float | None = self.runtime.loaded.config.pushgateway.group_ttl
        return ttl or None

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._save_loop(), name="pharos-pushgateway-save"),
            asyncio.create_task(self._ingest_loop(), name="pharos-pushgateway-ingest"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self.save_if_dirty()

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(SAVE_INTERVAL_S)
            try:
                await self.save_if_dirty()
            except OSError:
                log.exception("cannot save pushed groups")

    async def save_if_dirty(self) -> None:
        if self.store.dirty:
            self.store.dirty = False
            await asyncio.to_thread(self.store.save, self.store.snapshot())

    async def _ingest_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval())
            try:
                await self.ingest_once()
            except Exception:
                log.exception("pushgateway ingestion failed")

    # -- ingestion ---------------------------------------------------------------------------
    def expire(self, now: float | None = None) -> None:
        self.store.expire(time.time() if now is None else now)

    async def ingest_once(self, now_ms: int | None = None) -> int:
        """Append every group's samples at `now_ms`, stale markers for series gone; returns count."""
        tsdb = self.runtime.tsdb
        if tsdb is None:
            return 0
        if tsdb is not self._tsdb:
            self._tsdb, self._refs, self._live = tsdb, {}, np.zeros(0, dtype=np.uint32)
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        self.expire(now_ms / 1000)
        refs, values = self._resolve(tsdb, self.store.samples())
        gone = np.setdiff1d(self._live, refs)
        all_refs = np.concatenate([refs, gone]).astype(np.uint32)
        all_values = np.concatenate([values, np.full(len(gone), STALE_NAN)])
        self._live = np.unique(refs)
        if len(all_refs):
            await asyncio.to_thread(tsdb.append, all_refs, np.array([now_ms], dtype=np.int64), all_values)
        self.ingests += 1
        return len(refs)

    def _resolve(
        self, tsdb: Any, samples: list[tuple[str, dict[str, str], float]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Series refs and values; a label set seen twice keeps its first sample."""
        refs: list[int] = []
        values: list[float] = []
        seen: set[int] = set()
        for name, labels, value in samples:
            lset = make_labels([(METRIC_NAME, name), *labels.items()])
            ref = self._refs.get(lset)
            if ref is None:
                ref = self._refs[lset] = tsdb.get_ref(lset)
            if ref not in seen:
                seen.add(ref)
                refs.append(ref)
                values.append(value)
        return np.array(refs, dtype=np.uint32), np.array(values, dtype=np.float64)
