"""The scrape manager: discovery -> relabel -> scrape loops -> TSDB appends.

INTERFACE CONTRACT (the scrape helper implements; the server and /api/v1/targets use it).

One ScrapePool per scrape config (pool.py) holds the targets built from discovered groups
(target.py) and one ScrapeLoop per target (loop.py), which fetches (client.py), parses and maps
samples to TSDB refs through a per-target cache (ingest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from pharos.config.model import PharosConfig, ScrapeConfig
from pharos.metrics.model import Labels
from pharos.metrics.scrape import metrics
from pharos.metrics.scrape.discovery_adapter import DiscoveryRunner
from pharos.metrics.scrape.loop import ScrapeLoop
from pharos.metrics.scrape.pool import ScrapePool
from pharos.metrics.scrape.settings import ScrapeSettings
from pharos.metrics.scrape.target import global_url, jitter_seed
from pharos.metrics.tsdb.db import TSDB

log = logging.getLogger(__name__)


@dataclass
class TargetStatus:
    """One row of /api/v1/targets (Prometheus's field names)."""

    discovered_labels: dict[str, str]
    labels: dict[str, str]  # after relabelling (job, instance, ...)
    scrape_pool: str
    scrape_url: str
    global_url: str
    last_error: str
    last_scrape: float  # unix seconds, 0 before the first scrape
    last_scrape_duration: float
    health: str  # "up" | "down" | "unknown"
    scrape_interval: float
    scrape_timeout: float


@dataclass
class DroppedTarget:
    discovered_labels: dict[str, str]


@dataclass
class TargetsSnapshot:
    active: list[TargetStatus] = field(default_factory=list)
    dropped: list[DroppedTarget] = field(default_factory=list)
    discovery_errors: dict[str, list[str]] = field(default_factory=dict)  # by scrape pool


@dataclass
class MetricMetadataEntry:
    """One row for /api/v1/metadata and /api/v1/targets/metadata."""

    target: Labels
    metric: str
    type: str
    help: str
    unit: str


class ScrapeManager:
    """Owns the scrape pools; apply_config starts, reloads and stops them."""

    def __init__(self, tsdb: TSDB, *, end_of_run_stale_delay: float | None = None) -> None:
        """`end_of_run_stale_delay`: seconds to wait before marking a removed target's series
        stale; None waits 2.1 of its intervals, as Prometheus does (the target may come back)."""
        self.tsdb = tsdb
        self.end_of_run_stale_delay = end_of_run_stale_delay
        self.pools: dict[str, ScrapePool] = {}
        self.discovery: dict[str, DiscoveryRunner] = {}
        self._jitter_seed = 0
        self._pending: dict[asyncio.Task[None], list[ScrapeLoop]] = {}
        self._lock = asyncio.Lock()

    async def apply_config(self, config: PharosConfig) -> None:
        """Start, stop or update scrape pools and loops to match `config` (also on reload)."""
        async with self._lock:
            self._jitter_seed = jitter_seed(config.global_.external_labels)
            wanted = {sc.job_name: sc for sc in config.scrape_configs}
            for name in [n for n in self.pools if n not in wanted]:
                await self._stop_pool(name)
            for name, sc in wanted.items():
                settings = ScrapeSettings.from_config(sc, config.global_)
                pool = self.pools.get(name)
                if pool is None:
                    pool = ScrapePool(settings, self.tsdb, self._jitter_seed, self._retire)
                    self.pools[name] = pool
                else:
                    await pool.reload(settings, self._jitter_seed)
                await self._update_discovery(pool, sc)
            self._update_target_gauges()

    async def _update_discovery(self, pool: ScrapePool, sc: ScrapeConfig) -> None:
        runner = self.discovery.get(pool.name)
        if runner is not None and runner.same_config(sc):
            return
        if runner is not None:
            await runner.stop()
        runner = DiscoveryRunner(sc, pool)
        self.discovery[pool.name] = runner
        await runner.start()

    async def _stop_pool(self, name: str) -> None:
        runner = self.discovery.pop(name, None)
        if runner is not None:
            await runner.stop()
        pool = self.pools.pop(name)
        self._retire(await pool.stop())
        metrics.TARGETS.labels(name).set(0)

    def _update_target_gauges(self) -> None:
        for name, pool in self.pools.items():
            metrics.TARGETS.labels(name).set(len(pool.loops))

    # -- staleness of targets that went away --------------------------------------------------

    def _retire(self, loops: list[ScrapeLoop]) -> None:
        """Schedule staleness markers for stopped loops whose targets are gone."""
        loops = [lp for lp in loops if lp.last_ts_ms]
        if not loops:
            return
        delay = self.end_of_run_stale_delay
        if delay is None:
            delay = 2.1 * max(lp.target.interval for lp in loops)
        task = asyncio.create_task(self._stale_later(loops, delay))
        self._pending[task] = loops
        task.add_done_callback(lambda t: self._pending.pop(t, None))

    async def _stale_later(self, loops: list[ScrapeLoop], delay: float) -> None:
        await asyncio.sleep(delay)
        self._write_stale(loops)

    def _write_stale(self, loops: list[ScrapeLoop]) -> None:
        """Stale markers for `loops`' series, except series an active loop still scrapes."""
        active = self._active_refs()
        now_ms = int(time.time() * 1000)
        for loop in loops:
            stamp = min(now_ms, loop.last_ts_ms + int(loop.target.interval * 1000))
            try:
                loop.write_stale_markers(stamp, exclude=active)
            except Exception:
                log.exception("writing staleness markers for %s failed", loop.target.url)

    def _active_refs(self) -> np.ndarray:
        parts = [lp.end_of_run_refs() for pool in self.pools.values() for lp in pool.loops.values()]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    # -- shutdown --------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop every loop at shutdown. As in Prometheus, no staleness markers are written (not
        even the pending ones of targets removed earlier): a restart continues the series."""
        async with self._lock:
            for name in list(self.pools):
                runner = self.discovery.pop(name, None)
                if runner is not None:
                    await runner.stop()
                await self.pools.pop(name).stop()
            for task in list(self._pending):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._pending.clear()

    # -- status ------------------------------------------------------------------------------------

    def targets(self) -> TargetsSnapshot:
        """Active targets with their health, targets dropped by relabelling, discovery errors."""
        snap = TargetsSnapshot()
        for name, pool in self.pools.items():
            for loop in pool.loops.values():
                snap.active.append(_status(name, loop))
            snap.dropped.extend(DroppedTarget(discovered_labels=dict(d)) for d in pool.dropped)
        for name, runner in self.discovery.items():
            errors = runner.errors()
            if errors:
                snap.discovery_errors[name] = errors
        return snap

    def metadata(self) -> list[MetricMetadataEntry]:
        """HELP/TYPE/UNIT per metric family per target, from each target's last good scrape."""
        out: list[MetricMetadataEntry] = []
        for pool in self.pools.values():
            for loop in pool.loops.values():
                for metric, md in loop.cache.metadata.items():
                    out.append(MetricMetadataEntry(loop.target.labels, metric, md.type, md.help, md.unit))
        return out


def _status(pool_name: str, loop: ScrapeLoop) -> TargetStatus:
    target = loop.target
    return TargetStatus(
        discovered_labels=dict(target.discovered_labels),
        labels=dict(target.labels),
        scrape_pool=pool_name,
        scrape_url=target.url,
        global_url=global_url(target.url),
        last_error=loop.last_error,
        last_scrape=loop.last_scrape,
        last_scrape_duration=loop.last_scrape_duration,
        health=loop.health,
        scrape_interval=target.interval,
        scrape_timeout=target.timeout,
    )
