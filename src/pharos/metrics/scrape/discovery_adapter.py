"""Feeds a scrape pool from its scrape config's service discovery (static and file_sd)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pharos.config.model import ScrapeConfig, StaticConfig
from pharos.metrics.scrape.pool import ScrapePool

log = logging.getLogger(__name__)


def static_groups(configs: Iterable[StaticConfig]) -> dict[str, list[dict[str, str]]]:
    """Label sets of static_configs, one source per entry (target labels win over group labels)."""
    groups: dict[str, list[dict[str, str]]] = {}
    for i, sc in enumerate(configs):
        groups[f"static/{i}"] = [{**sc.labels, "__address__": addr} for addr in sc.targets]
    return groups


def merge_group(targets: Iterable[Mapping[str, str]], labels: Mapping[str, str]) -> list[dict[str, str]]:
    """Discovered label sets of one target group: group labels under each target's own."""
    return [{**labels, **t} for t in targets]


class DiscoveryRunner:
    """Runs the discoverers of one scrape config and pushes their groups into the pool."""

    def __init__(self, config: ScrapeConfig, pool: ScrapePool) -> None:
        self.config = config
        self.pool = pool
        self._task: asyncio.Task[None] | None = None

    def same_config(self, config: Any) -> bool:
        """Whether `config` discovers exactly what this runner discovers."""
        return _sd_key(config) == _sd_key(self.config)

    async def start(self) -> None:
        """Push static groups now; watch file_sd files in the background."""
        groups: dict[str, list[dict[str, str]]] = {src: [] for src in self.pool.groups}
        groups.update(static_groups(self.config.static_configs))
        await self.pool.set_groups(groups)
        if self.config.file_sd_configs:
            self._task = asyncio.create_task(self._watch_files(), name=f"file_sd {self.pool.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch_files(self) -> None:
        try:
            from pharos.metrics.scrape import discovery
        except ImportError:
            log.warning("job %s: file_sd_configs not available yet", self.pool.name)
            return
        async for update in discovery.watch_file_sd(self.config.file_sd_configs):  # type: ignore[attr-defined]
            groups = {g.source: merge_group(g.targets, g.labels) for g in update}
            await self.pool.set_groups(groups)


def _sd_key(config: Any) -> tuple:
    return (
        tuple(repr(s.model_dump()) for s in config.static_configs),
        tuple(repr(f.model_dump()) for f in config.file_sd_configs),
    )
