"""Silences: create, update in place or replace, expire, match alerts; persisted to a JSON file.

Semantics follow Alertmanager 0.25: a start in the past becomes now; an active silence may only
change its end (and comment) in place, otherwise the old one is expired and a new ID is made;
expired silences are kept for `retention` and then dropped.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pharos.alertmanager.clock import Clock
from pharos.alertmanager.matchers import EQ, NE, NRE, RE, Matcher, MatcherError, matches_all
from pharos.alertmanager.model import ZERO_TIME, parse_time
from pharos.alertmanager.persist import read_json, write_json

RETENTION = timedelta(hours=120)


class SilenceError(ValueError):
    """A silence that is invalid or cannot be changed."""


class SilenceNotFound(LookupError):
    """No silence with that ID."""


@dataclass
class Silence:
    """One silence."""

    id: str
    matchers: list[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str = ""
    comment: str = ""
    updated_at: datetime = ZERO_TIME

    def state(self, now: datetime) -> str:
        """"expired", "active" or "pending"."""
        if self.ends_at <= now:
            return "expired"
        return "active" if self.starts_at <= now else "pending"

    def mutes(self, labels: dict[str, str], now: datetime) -> bool:
        """Whether this silence is active and matches the labels."""
        return self.state(now) == "active" and matches_all(self.matchers, labels)

    def to_json(self) -> dict[str, Any]:
        """The persisted form."""
        return {
            "id": self.id, "createdBy": self.created_by, "comment": self.comment,
            "startsAt": self.starts_at.isoformat(), "endsAt": self.ends_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
            "matchers": [{"name": m.name, "op": m.op, "value": m.value} for m in self.matchers],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Silence:
        """Inverse of `to_json`."""
        return cls(
            id=raw["id"], created_by=raw.get("createdBy", ""), comment=raw.get("comment", ""),
            starts_at=parse_time(raw["startsAt"]), ends_at=parse_time(raw["endsAt"]),
            updated_at=parse_time(raw["updatedAt"]),
            matchers=[Matcher.make(m["name"], m["op"], m["value"]) for m in raw["matchers"]],
        )


def api_matcher(raw: dict[str, Any]) -> Matcher:
    """A matcher from API v2's {name, value, isRegex, isEqual} (isEqual defaults to true)."""
    name, value = raw.get("name"), raw.get("value")
    if not isinstance(name, str) or not isinstance(value, str):
        raise SilenceError("matcher name and value must be strings")
    is_regex, is_equal = bool(raw.get("isRegex")), raw.get("isEqual", True) is not False
    op = (RE if is_equal else NRE) if is_regex else (EQ if is_equal else NE)
    try:
        return Matcher.make(name, op, value)
    except MatcherError as exc:
        raise SilenceError(f"invalid label matcher: {exc}") from None


class Silences:
    """The silence store; every change is written to `path` before it returns."""

    def __init__(self, clock: Clock, path: Path | None = None) -> None:
        self.clock = clock
        self.path = path
        self._by_id: dict[str, Silence] = {}
        self.version = 0
        for raw in read_json(path, []):
            silence = Silence.from_json(raw)
            self._by_id[silence.id] = silence

    # -- queries -------------------------------------------------------------------------------
    def get(self, sid: str) -> Silence:
        """The silence with this ID (SilenceNotFound)."""
        try:
            return self._by_id[sid]
        except KeyError:
            raise SilenceNotFound(sid) from None

    def all(self) -> list[Silence]:
        """Every silence, expired ones included."""
        return list(self._by_id.values())

    def mutes(self, labels: dict[str, str]) -> list[str]:
        """IDs of the active silences matching the labels (sorted)."""
        now = self.clock.now()
        return sorted(s.id for s in self._by_id.values() if s.mutes(labels, now))

    # -- changes -------------------------------------------------------------------------------
    def set(self, new: Silence) -> str:
        """Create, update in place, or replace (expire + new ID) as Alertmanager does; the ID."""
        now = self.clock.now()
        _validate(new)
        if new.id:
            old = self.get(new.id)
            if _can_update(old, new, now):
                self._store(replace(new, updated_at=now))
                return new.id
            if old.state(now) != "expired":
                self._expire(old, now)
        created = replace(new, id=str(uuid.uuid4()), updated_at=now)
        if created.starts_at < now:
            created.starts_at = now
        if created.ends_at < now:
            raise SilenceError("end time can't be in the past")
        self._store(created)
        return created.id

    def expire(self, sid: str) -> None:
        """End a silence now (SilenceNotFound; SilenceError when it has already expired)."""
        silence = self.get(sid)
        now = self.clock.now()
        if silence.state(now) == "expired":
            raise SilenceError("silence already expired")
        self._expire(silence, now)
        self._save()

    def gc(self) -> int:
        """Drop silences expired longer than the retention; how many were dropped."""
        cutoff = self.clock.now() - RETENTION
        old = [sid for sid, s in self._by_id.items() if s.ends_at < cutoff]
        for sid in old:
            del self._by_id[sid]
        if old:
            self._save()
        return len(old)

    def _expire(self, silence: Silence, now: datetime) -> None:
        if silence.state(now) == "pending":
            silence.starts_at = now
        silence.ends_at = now
        silence.updated_at = now
        self.version += 1

    def _store(self, silence: Silence) -> None:
        self._by_id[silence.id] = silence
        self.version += 1
        self._save()

    def _save(self) -> None:
        if self.path is not None:
            write_json(self.path, [s.to_json() for s in self._by_id.values()])


def _validate(s: Silence) -> None:
    if not s.matchers:
        raise SilenceError("at least one matcher required")
    if all(m.matches("") for m in s.matchers):
        raise SilenceError("at least one matcher must not match the empty string")
    if s.ends_at <= s.starts_at:
        raise SilenceError("start time must be before end time")


def _can_update(old: Silence, new: Silence, now: datetime) -> bool:
    """Alertmanager's canUpdate: same matchers and a time change allowed in the old state."""
    if [(m.name, m.op, m.value) for m in old.matchers] != [(m.name, m.op, m.value) for m in new.matchers]:
        return False
    state = old.state(now)
    if state == "active":
        return new.starts_at == old.starts_at and new.ends_at >= now
    if state == "pending":
        return new.starts_at >= now
    return False
