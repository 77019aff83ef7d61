"""One scrape pool per scrape config: discovered groups -> relabel_configs -> targets -> loops."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping

from pharos.metrics.model import Labels
from pharos.metrics.scrape.client import make_session
from pharos.metrics.scrape.ingest import SeriesCache
from pharos.metrics.scrape.loop import ScrapeLoop
from pharos.metrics.scrape.settings import ScrapeSettings
from pharos.metrics.scrape.target import Target, TargetError, build_target
from pharos.metrics.tsdb.db import TSDB

log = logging.getLogger(__name__)

# Called with loops whose targets went away; they get staleness markers (possibly later).
RetireFn = Callable[[list[ScrapeLoop]], None]


class ScrapePool:
    """The targets and loops of one scrape config."""

    def __init__(self, settings: ScrapeSettings, tsdb: TSDB, jitter_seed: int, retire: RetireFn) -> None:
        self.settings = settings
        self.tsdb = tsdb
        self.jitter_seed = jitter_seed
        self.retire = retire
        self.session = make_session(settings.http)
        self.groups: dict[str, list[dict[str, str]]] = {}  # source -> discovered label sets
        self.loops: dict[Labels, ScrapeLoop] = {}
        self.dropped: list[dict[str, str]] = []
        self._lock = asyncio.Lock()  # discovery updates and reloads change loops one at a time

    @property
    def name(self) -> str:
        return self.settings.job_name

    # -- discovery input -------------------------------------------------------------------

    async def set_groups(self, groups: Mapping[str, Iterable[Mapping[str, str]]]) -> None:
        """Replace the label sets of the given sources (an empty list removes a source), then sync."""
        for source, label_sets in groups.items():
            sets = [dict(ls) for ls in label_sets]
            if sets:
                self.groups[source] = sets
            else:
                self.groups.pop(source, None)
        async with self._lock:
            await self._sync()

    def build_targets(self) -> tuple[dict[Labels, Target], list[dict[str, str]]]:
        """Targets (deduplicated by their labels) and dropped label sets from the current groups."""
        targets: dict[Labels, Target] = {}
        dropped: list[dict[str, str]] = []
        for source in sorted(self.groups):
            for discovered in self.groups[source]:
                try:
                    target, pre = build_target(discovered, self.settings)
                except TargetError as exc:
                    log.warning("job %s: dropping target %s: %s", self.name, discovered, exc)
                    continue
                if target is None:
                    dropped.append(pre)
                else:
                    targets.setdefault(target.key, target)
        return targets, dropped

    async def _sync(self) -> None:
        """Start loops for new targets and retire loops whose targets are gone."""
        targets, self.dropped = self.build_targets()
        removed = [loop for key, loop in self.loops.items() if key not in targets]
        for loop in removed:
            del self.loops[loop.target.key]
            await loop.stop()
        for key, target in targets.items():
            if key not in self.loops:
                self._start(target, None)
        if removed:
            self.retire(removed)

    def _start(self, target: Target, cache: SeriesCache | None) -> ScrapeLoop:
        loop = ScrapeLoop(target, self.settings, self.session, self.tsdb, self.jitter_seed, cache)
        self.loops[target.key] = loop
        loop.start()
        return loop

    # -- reload --------------------------------------------------------------------------------

    async def reload(self, settings: ScrapeSettings, jitter_seed: int) -> None:
        """Apply a changed config: unchanged targets keep running, changed ones restart."""
        async with self._lock:
            await self._reload(settings, jitter_seed)

    async def _reload(self, settings: ScrapeSettings, jitter_seed: int) -> None:
        old = self.settings
        self.settings = settings
        restart_all = settings.loop_key() != old.loop_key() or jitter_seed != self.jitter_seed
        self.jitter_seed = jitter_seed
        old_session = None
        if settings.http != old.http:
            old_session, self.session = self.session, make_session(settings.http)
        if settings.targets_key() != old.targets_key():
            await self._restart_changed(restart_all, settings.cache_key() == old.cache_key())
        elif restart_all:
            await self._restart_changed(True, settings.cache_key() == old.cache_key())
        if old_session is not None:
            await old_session.close()

    async def _restart_changed(self, restart_all: bool, keep_cache: bool) -> None:
        targets, self.dropped = self.build_targets()
        removed: list[ScrapeLoop] = []
        for key, loop in list(self.loops.items()):
            if key not in targets:
                del self.loops[key]
                await loop.stop()
                removed.append(loop)
            elif restart_all:
                await loop.stop()
                self._start(targets[key], _carry_cache(loop.cache, keep_cache))
        for key, target in targets.items():
            if key not in self.loops:
                self._start(target, None)
        if removed:
            self.retire(removed)

    # -- shutdown ------------------------------------------------------------------------------

    async def stop(self) -> list[ScrapeLoop]:
        """Stop every loop and close the session; returns the stopped loops (for staleness)."""
        async with self._lock:
            loops = list(self.loops.values())
            self.loops.clear()
            for loop in loops:
                await loop.stop()
            await self.session.close()
            return loops


def _carry_cache(cache: SeriesCache, keep: bool) -> SeriesCache:
    """The cache for a restarted loop: the same one, or a fresh one that still knows which
    series the last scrape wrote (so they get staleness markers if they vanish)."""
    if keep:
        return cache
    return SeriesCache(prev_refs=cache.prev_refs, metadata=cache.metadata)
