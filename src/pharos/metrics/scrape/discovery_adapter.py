"""Feeds a scrape pool from its scrape config's service discovery (static, file_sd, kubernetes_sd)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any

from pharos.config.model import ScrapeConfig
from pharos.metrics.scrape.discovery import TargetGroup, static_target_groups, watch_file_sd
from pharos.metrics.scrape.pool import ScrapePool

log = logging.getLogger(__name__)


def _as_sources(groups: Iterable[TargetGroup]) -> dict[str, list[dict[str, str]]]:
    """Discovered label sets by group source (an empty list means the source went away)."""
    return {g.source: g.label_sets() for g in groups}


class DiscoveryRunner:
    """Runs the discoverers of one scrape config and pushes their groups into the pool."""

    def __init__(self, config: ScrapeConfig, pool: ScrapePool, poll_interval: float = 1.0) -> None:
        self.config = config
        self.pool = pool
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self._updates: AsyncIterator[list[TargetGroup]] | None = None
        self.kubernetes: list[Any] = []  # KubernetesDiscovery per kubernetes_sd_configs entry
        self._kube_tasks: list[asyncio.Task[None]] = []

    def same_config(self, config: Any) -> bool:
        """Whether `config` discovers exactly what this runner discovers."""
        return _sd_key(config) == _sd_key(self.config)

    async def start(self) -> None:
        """Replace the pool's groups with static and first file_sd groups in one sync (targets
        that are still discovered keep their loops), then watch file_sd in the background."""
        groups: dict[str, list[dict[str, str]]] = {src: [] for src in self.pool.groups}
        groups.update(_as_sources(static_target_groups(self.config.static_configs)))
        if self.config.file_sd_configs:
            updates = watch_file_sd(self.config.file_sd_configs, self.poll_interval)
            self._updates = updates
            groups.update(_as_sources(await anext(updates)))
            self._task = asyncio.create_task(self._watch_files(), name=f"file_sd {self.pool.name}")
        await self.pool.set_groups(groups)
        self._start_kubernetes()

    def _start_kubernetes(self) -> None:
        """One discovery per kubernetes_sd_configs entry; groups arrive as the watches deliver."""
        if not self.config.kubernetes_sd_configs:
            return
        from pharos.kube.sd import KubernetesDiscovery  # only loaded when configured

        for i, sd in enumerate(self.config.kubernetes_sd_configs):
            disc = KubernetesDiscovery(sd)
            self.kubernetes.append(disc)
            self._kube_tasks.append(
                asyncio.create_task(disc.run(self._kube_updates(i)), name=f"kubernetes_sd {self.pool.name}/{i}")
            )

    def _kube_updates(self, index: int) -> Any:
        async def apply(groups: list[TargetGroup]) -> None:
            await self.pool.set_groups({f"kubernetes/{index}/{g.source}": g.label_sets() for g in groups})
        return apply

    def errors(self) -> list[str]:
        """Current service-discovery errors of this scrape config (shown with its targets)."""
        return [e for disc in self.kubernetes for e in disc.errors()]

    async def stop(self) -> None:
        for kube_task in self._kube_tasks:
            kube_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await kube_task
        self._kube_tasks, self.kubernetes = [], []
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        updates, self._updates = self._updates, None
        if isinstance(updates, AsyncGenerator):
            await updates.aclose()

    async def _watch_files(self) -> None:
        assert self._updates is not None
        async for changed in self._updates:
            try:
                await self.pool.set_groups(_as_sources(changed))
            except Exception:
                log.exception("job %s: applying discovered targets failed", self.pool.name)


def _sd_key(config: Any) -> tuple:
    return (
        tuple(repr(s.model_dump()) for s in config.static_configs),
        tuple(repr(f.model_dump()) for f in config.file_sd_configs),
        tuple(repr(k.model_dump()) for k in getattr(config, "kubernetes_sd_configs", ())),
    )
