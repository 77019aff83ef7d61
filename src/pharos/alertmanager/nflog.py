"""The notification log: what each receiver integration was last told about each group.

An entry per (group key, receiver, integration) holds the fingerprints of the firing and
resolved alerts last notified and when. Deduplication reads it; it is written to a JSON file on
every change, so a restart neither forgets nor repeats notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pharos.alertmanager.clock import Clock
from pharos.alertmanager.model import parse_time
from pharos.alertmanager.persist import read_json, write_json

RETENTION = timedelta(hours=120)


@dataclass
class Entry:
    """The last notification of one integration about one group."""

    group_key: str
    receiver: str  # "<receiver>/<integration>/<index>"
    timestamp: datetime
    firing: frozenset[int]
    resolved: frozenset[int]
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The persisted form."""
        return {"groupKey": self.group_key, "receiver": self.receiver,
                "timestamp": self.timestamp.isoformat(), "expiresAt": self.expires_at.isoformat(),
                "firing": sorted(self.firing), "resolved": sorted(self.resolved)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Entry:
        """Inverse of `to_json`."""
        return cls(raw["groupKey"], raw["receiver"], parse_time(raw["timestamp"]),
                   frozenset(raw["firing"]), frozenset(raw["resolved"]), parse_time(raw["expiresAt"]))


class NotificationLog:
    """Entries by (group key, receiver integration)."""

    def __init__(self, clock: Clock, path: Path | None = None, retention: timedelta = RETENTION) -> None:
        self.clock = clock
        self.path = path
        self.retention = retention
        self._entries: dict[tuple[str, str], Entry] = {}
        for raw in read_json(path, []):
            entry = Entry.from_json(raw)
            self._entries[(entry.group_key, entry.receiver)] = entry

    def query(self, group_key: str, receiver: str) -> Entry | None:
        """The last entry for the group and integration."""
        return self._entries.get((group_key, receiver))

    def log(self, group_key: str, receiver: str, firing: set[int], resolved: set[int]) -> None:
        """Record a notification (saved before returning)."""
        now = self.clock.now()
        self._entries[(group_key, receiver)] = Entry(
            group_key, receiver, now, frozenset(firing), frozenset(resolved), now + self.retention
        )
        self._save()

    def gc(self) -> int:
        """Drop expired entries; how many."""
        now = self.clock.now()
        gone = [k for k, e in self._entries.items() if e.expires_at <= now]
        for key in gone:
            del self._entries[key]
        if gone:
            self._save()
        return len(gone)

    def __len__(self) -> int:
        return len(self._entries)

    def _save(self) -> None:
        if self.path is not None:
            write_json(self.path, [e.to_json() for e in self._entries.values()])
