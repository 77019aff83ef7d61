"""Service discovery: target groups from `static_configs` and `file_sd_configs` (watched).

A `TargetGroup` is Prometheus's: `targets` (label sets holding `__address__`), group `labels`
(for file SD including `__meta_filepath`) and a `source` id (`"0"`, `"1"`... for static configs,
`"<path>:<index>"` for file SD). `group.label_sets()` gives each target's discovered labels (group
labels under the target's own).

Two async APIs, both polling file mtimes every `poll_interval` (1s) and re-reading every file at
its config's `refresh_interval`:

* `watch_file_sd(file_sd_configs)` -> async iterator of *changed* groups. The first item holds
  every group found at start; later items hold only groups that changed, and a group whose file
  went away (or shrank) comes back empty, meaning "remove this source".
* `Discoverer(scrape_configs).run(on_update)` calls `await on_update(job_name, groups)` with the
  *complete* list of a job's groups (static + file) once per job at start and after every change.

A file that cannot be read or parsed is logged as an error naming the file, and its previous
targets are kept (Prometheus behaviour). File paths are expected absolute (the config loader
resolves them against the config file's directory); a glob may appear in the last path element.
"""

from __future__ import annotations

import asyncio
import glob
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from pharos.config.model import FileSDConfig, ScrapeConfig, StaticConfig
from pharos.metrics.scrape.relabel import is_valid_label_name

log = logging.getLogger(__name__)

META_FILEPATH = "__meta_filepath"
ADDRESS = "__address__"
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

OnUpdate = Callable[[str, list["TargetGroup"]], Awaitable[None]]


@dataclass
class TargetGroup:
    """A set of targets sharing labels, identified by `source` within its discoverer."""

    source: str
    targets: list[dict[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    def label_sets(self) -> list[dict[str, str]]:
        """Discovered labels of each target: group labels, overridden by the target's own."""
        return [{**self.labels, **t} for t in self.targets]


def static_target_groups(configs: Sequence[StaticConfig]) -> list[TargetGroup]:
    """Target groups of `static_configs`, sources "0", "1", ... as in Prometheus."""
    return [
        TargetGroup(str(i), [{ADDRESS: t} for t in sc.targets], dict(sc.labels))
        for i, sc in enumerate(configs)
    ]


class FileSDError(ValueError):
    """A file_sd file that cannot be used."""


def read_file_sd(path: str) -> list[TargetGroup]:
    """Parse one file_sd file (JSON or YAML list of {targets, labels}); raises FileSDError."""
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
        if ext == ".json":
            data = json.loads(raw)
        elif ext in (".yml", ".yaml"):
            data = yaml.load(raw, Loader=_YamlLoader)  # a safe loader
        else:
            raise FileSDError(f"unsupported file extension {ext!r}")
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise FileSDError(str(exc)) from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise FileSDError("expected a list of target groups")
    return [_parse_group(item, f"{path}:{i}", path) for i, item in enumerate(data)]


def _parse_group(item: Any, source: str, path: str) -> TargetGroup:
    """Validate one {targets, labels} entry."""
    if item is None:
        raise FileSDError("nil target group item found")
    if not isinstance(item, dict):
        raise FileSDError(f"target group {source} is not a mapping")
    unknown = set(item) - {"targets", "labels"}
    if unknown:
        raise FileSDError(f"field {sorted(unknown)[0]} not found in target group {source}")
    targets = item.get("targets") or []
    labels = item.get("labels") or {}
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise FileSDError(f"targets of {source} must be a list of strings")
    if not isinstance(labels, dict):
        raise FileSDError(f"labels of {source} must be a mapping")
    clean = {str(k): _label_value(v, source) for k, v in labels.items()}
    for name in clean:
        if not is_valid_label_name(name):
            raise FileSDError(f'"{name}" is not a valid label name')
    clean[META_FILEPATH] = path
    return TargetGroup(source, [{ADDRESS: t} for t in targets], clean)


def _label_value(value: Any, source: str) -> str:
    """A label value: strings, or YAML scalars rendered as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value).lower() if isinstance(value, bool) else str(value)
    raise FileSDError(f"label value {value!r} in {source} is not a string")


@dataclass
class _FileState:
    stamp: tuple[int, int, int] | None
    groups: list[TargetGroup]


class FileSD:
    """One file_sd config: tracks its files and reports changed target groups."""

    def __init__(self, config: FileSDConfig) -> None:
        self.config = config
        self.files: dict[str, _FileState] = {}
        self.last_full = 0.0

    def list_files(self) -> list[str]:
        """Files matching the config's patterns, sorted."""
        found: set[str] = set()
        for pattern in self.config.files:
            found.update(p for p in glob.glob(pattern) if os.path.isfile(p))
        return sorted(found)

    def groups(self) -> list[TargetGroup]:
        """All current groups of this config."""
        return [g for state in self.files.values() for g in state.groups]

    def due(self, now: float) -> bool:
        """Whether a full re-read is due (refresh_interval elapsed)."""
        return now - self.last_full >= self.config.refresh_interval

    def refresh(self, force: bool = False) -> list[TargetGroup]:
        """Re-read new/changed files (all when `force`); return the groups that changed."""
        if force:
            self.last_full = time.monotonic()
        changed: list[TargetGroup] = []
        current = self.list_files()
        for gone in set(self.files) - set(current):
            changed += [TargetGroup(g.source) for g in self.files.pop(gone).groups]
        for path in current:
            changed += self._refresh_file(path, force)
        return changed

    def _refresh_file(self, path: str, force: bool) -> list[TargetGroup]:
        """Re-read one file if it changed; keep the old groups when it is invalid."""
        old = self.files.get(path)
        stamp = _stamp(path)
        if old is not None and not force and stamp == old.stamp:
            return []
        previous = old.groups if old is not None else []
        try:
            groups = read_file_sd(path)
        except FileSDError as exc:
            if old is None or old.stamp != stamp:
                log.error("file_sd: error reading file %s: %s (keeping its previous targets)", path, exc)
            self.files[path] = _FileState(stamp, previous)
            return []
        self.files[path] = _FileState(stamp, groups)
        return _diff(previous, groups)


def _stamp(path: str) -> tuple[int, int, int] | None:
    """What tells a file changed: mtime, size and inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _diff(old: list[TargetGroup], new: list[TargetGroup]) -> list[TargetGroup]:
    """Groups that changed, plus empty groups for sources that disappeared."""
    changed = [g for i, g in enumerate(new) if i >= len(old) or old[i] != g]
    new_sources = {g.source for g in new}
    return changed + [TargetGroup(g.source) for g in old if g.source not in new_sources]


async def watch_file_sd(
    configs: Sequence[FileSDConfig], poll_interval: float = 1.0
) -> AsyncIterator[list[TargetGroup]]:
    """Yield all groups at start, then each batch of changed groups (empty group = source removed)."""
    sds = [FileSD(c) for c in configs]
    initial: list[TargetGroup] = []
    for sd in sds:
        await asyncio.to_thread(sd.refresh, True)
        initial += sd.groups()
    yield initial
    while True:
        await asyncio.sleep(poll_interval)
        now = time.monotonic()
        changed: list[TargetGroup] = []
        for sd in sds:
            changed += await asyncio.to_thread(sd.refresh, sd.due(now))
        if changed:
            yield changed


class Discoverer:
    """Discovery for a whole config: `await run(on_update)` reports each job's complete groups."""

    def __init__(self, scrape_configs: Sequence[ScrapeConfig], poll_interval: float = 1.0) -> None:
        self.scrape_configs = list(scrape_configs)
        self.poll_interval = poll_interval
        self.file_sds = {sc.job_name: [FileSD(c) for c in sc.file_sd_configs] for sc in self.scrape_configs}

    def groups(self, job_name: str) -> list[TargetGroup]:
        """The current complete list of groups of a job."""
        sc = next(s for s in self.scrape_configs if s.job_name == job_name)
        out = static_target_groups(sc.static_configs)
        for sd in self.file_sds[job_name]:
            out += sd.groups()
        return out

    async def run(self, on_update: OnUpdate) -> None:
        """Report every job once, then each job whose file_sd groups change; runs until cancelled."""
        for sc in self.scrape_configs:
            for sd in self.file_sds[sc.job_name]:
                await asyncio.to_thread(sd.refresh, True)
            await on_update(sc.job_name, self.groups(sc.job_name))
        while True:
            await asyncio.sleep(self.poll_interval)
            await self._poll(on_update)

    async def _poll(self, on_update: OnUpdate) -> None:
        """One polling round over every job's file_sd configs."""
        now = time.monotonic()
        for job, sds in self.file_sds.items():
            changed = False
            for sd in sds:
                changed |= bool(await asyncio.to_thread(sd.refresh, sd.due(now)))
            if changed:
                await on_update(job, self.groups(job))
