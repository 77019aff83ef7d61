"""The pushed groups: PUT/POST/DELETE semantics, push (failure) times, optional TTL, and a JSON
file in the data directory written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from pharos.metrics.pushgateway.consistency import check_consistency, check_timestamps
from pharos.metrics.pushgateway.model import (
    GAUGE,
    PUSH_FAILURE_HELP,
    PUSH_FAILURE_TIME,
    PUSH_TIME,
    PUSH_TIME_HELP,
    Family,
    Metric,
    Sample,
    family_from_json,
    family_to_json,
)

log = logging.getLogger("pharos.pushgateway")
GroupKey = tuple[tuple[str, str], ...]


@dataclass
class Group:
    labels: dict[str, str]  # the grouping key
    families: dict[str, Family] = field(default_factory=dict)
    push_time: float = 0.0
    push_time_at: float = 0.0
    failure_time: float = 0.0
    failure_time_at: float = 0.0
    last_push_successful: bool = True
    ttl: float | None = None

    def _gauge(self, name: str, help_: str, value: float, at: float) -> Family:
        labels = {**self.labels}
        labels.setdefault("instance", "")
        return Family(name, GAUGE, help_, [Metric(labels, value)], at)

    def all_families(self) -> list[Family]:
        """Pushed families plus push_time_seconds and push_failure_time_seconds."""
        return [
            *self.families.values(),
            self._gauge(PUSH_TIME, PUSH_TIME_HELP, self.push_time, self.push_time_at),
            self._gauge(PUSH_FAILURE_TIME, PUSH_FAILURE_HELP, self.failure_time, self.failure_time_at),
        ]

    def last_change(self) -> float:
        return max(self.push_time_at, self.failure_time_at)

    def expired(self, now: float) -> bool:
        return self.ttl is not None and now - self.last_change() > self.ttl

    def status(self) -> dict[str, Any]:
        """The group as the Pushgateway's /api/v1/metrics lists it."""
        out: dict[str, Any] = {"labels": dict(sorted(self.labels.items()))}
        out["last_push_successful"] = self.last_push_successful
        for fam in self.all_families():
            out[fam.name] = fam.status()
        return out


def key_of(labels: dict[str, str]) -> GroupKey:
    return tuple(sorted(labels.items()))


class GroupStore:
    """All groups; every change marks the store dirty for the next save."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.groups: dict[GroupKey, Group] = {}
        self.dirty = False
        if path is not None:
            self.load()

    # -- changes -----------------------------------------------------------------------------
    def push(
        self,
        labels: dict[str, str],
        families: dict[str, Family],
        replace: bool,
        now: float,
        ttl: float | None = None,
    ) -> None:
        """PUT (replace=True) or POST a group; InconsistentError records a failure and re-raises."""
        key = key_of(labels)
        group = self.groups.get(key)
        try:
            check_timestamps(families.values())
            merged = dict(families) if replace else {**(group.families if group else {}), **families}
            candidate = Group(labels, merged, now, now)
            others = [g for k, g in sorted(self.groups.items()) if k != key]
            check_consistency(f for g in [*others, candidate] for f in g.all_families())
        except ValueError:
            self._record_failure(labels, now, ttl)
            raise
        if group is None:
            group = self.groups[key] = Group(labels, failure_time_at=now)
        group.families = merged
        group.push_time = group.push_time_at = now
        group.last_push_successful = True
        if ttl is not None:
            group.ttl = ttl
        self.dirty = True

    def _record_failure(self, labels: dict[str, str], now: float, ttl: float | None) -> None:
        group = self.groups.get(key_of(labels))
        if group is None:
            group = self.groups[key_of(labels)] = Group(labels, push_time_at=now, ttl=ttl)
        group.failure_time = group.failure_time_at = now
        group.last_push_successful = False
        self.dirty = True

    def delete(self, labels: dict[str, str]) -> None:
        if self.groups.pop(key_of(labels), None) is not None:
            self.dirty = True

    def wipe(self) -> None:
        self.groups.clear()
        self.dirty = True

    def expire(self, now: float) -> int:
        """Drop groups whose TTL has passed; returns how many."""
        gone = [k for k, g in self.groups.items() if g.expired(now)]
        for k in gone:
            del self.groups[k]
        if gone:
            self.dirty = True
        return len(gone)

    # -- reading -----------------------------------------------------------------------------
    def status(self) -> list[dict[str, Any]]:
        return [g.status() for _, g in sorted(self.groups.items())]

    def samples(self) -> list[Sample]:
        """Every series a scrape of the Pushgateway would return for the pushed groups."""
        return [s for _, g in sorted(self.groups.items()) for f in g.all_families() for s in f.samples()]

    # -- persistence -------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        groups = [
            {
                "labels": g.labels,
                "families": [family_to_json(f) for f in g.families.values()],
                "push_time": g.push_time,
                "push_time_at": g.push_time_at,
                "failure_time": g.failure_time,
                "failure_time_at": g.failure_time_at,
                "last_push_successful": g.last_push_successful,
                "ttl": g.ttl,
            }
            for g in self.groups.values()
        ]
        return orjson.dumps({"version": 1, "groups": groups})

    def save(self, data: bytes | None = None) -> None:
        """Write the snapshot atomically; a crash leaves the old file or the new one."""
        if self.path is None:
            return
        data = self.snapshot() if data is None else data
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            doc = orjson.loads(self.path.read_bytes())
            for g in doc["groups"]:
                group = Group(
                    dict(g["labels"]),
                    {f["name"]: family_from_json(f) for f in g["families"]},
                    g["push_time"],
                    g["push_time_at"],
                    g["failure_time"],
                    g["failure_time_at"],
                    g["last_push_successful"],
                    g["ttl"],
                )
                self.groups[key_of(group.labels)] = group
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("cannot read pushed groups from %s: %s; starting empty", self.path, exc)
            self.groups.clear()
        log.info("pushgateway: %d groups restored from %s", len(self.groups), self.path)
