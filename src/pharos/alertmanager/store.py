"""The alerts the alertmanager knows, by fingerprint; updates merge as Alertmanager merges them.

Kept in memory and saved to a JSON file on maintenance and shutdown, so a restart keeps alerts
received but not yet notified (the notification log keeps them from being sent twice).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pharos.alertmanager.clock import Clock
from pharos.alertmanager.model import Alert, parse_time
from pharos.alertmanager.persist import read_json, write_json

Listener = Callable[[Alert], None]


class AlertStore:
    """Alerts by fingerprint, with listeners told of every stored update."""

    def __init__(self, clock: Clock, path: Path | None = None) -> None:
        self.clock = clock
        self.path = path
        self._alerts: dict[int, Alert] = {}
        self.listeners: list[Listener] = []
        for raw in read_json(path, []):
            alert = _from_json(raw)
            self._alerts[alert.fingerprint] = alert

    def put(self, alert: Alert) -> Alert:
        """Store (merging with an overlapping older version) and notify listeners; the result."""
        old = self._alerts.get(alert.fingerprint)
        if old is not None and _overlaps(old, alert):
            alert = old.merge(alert)
        self._alerts[alert.fingerprint] = alert
        for listener in self.listeners:
            listener(alert)
        return alert

    def get(self, fp: int) -> Alert | None:
        """The alert with this fingerprint."""
        return self._alerts.get(fp)

    def __iter__(self) -> Iterator[Alert]:
        return iter(list(self._alerts.values()))

    def __len__(self) -> int:
        return len(self._alerts)

    def gc(self, keep: timedelta = timedelta(0)) -> int:
        """Drop alerts resolved more than `keep` ago; how many were dropped."""
        cutoff = self.clock.now() - keep
        gone = [fp for fp, a in self._alerts.items() if a.resolved_at(cutoff)]
        for fp in gone:
            del self._alerts[fp]
        return len(gone)

    def replay(self) -> None:
        """Tell the listeners about every stored alert (after a restart)."""
        for alert in list(self._alerts.values()):
            for listener in self.listeners:
                listener(alert)

    def save(self) -> None:
        """Write the alerts to the state file."""
        if self.path is not None:
            write_json(self.path, [_to_json(a) for a in self._alerts.values()])


def _overlaps(old: Alert, new: Alert) -> bool:
    """Alertmanager merges when the activity ranges overlap."""
    return (old.starts_at < new.ends_at < old.ends_at) or (old.starts_at < new.starts_at < old.ends_at)


def _to_json(a: Alert) -> dict[str, Any]:
    return {"labels": a.labels, "annotations": a.annotations, "startsAt": a.starts_at.isoformat(),
            "endsAt": a.ends_at.isoformat(), "generatorURL": a.generator_url,
            "updatedAt": a.updated_at.isoformat(), "timeout": a.timeout}


def _from_json(raw: dict[str, Any]) -> Alert:
    return Alert(labels=raw["labels"], annotations=raw["annotations"],
                 starts_at=parse_time(raw["startsAt"]), ends_at=parse_time(raw["endsAt"]),
                 generator_url=raw.get("generatorURL", ""), updated_at=parse_time(raw["updatedAt"]),
                 timeout=bool(raw.get("timeout")))
