"""Time for the alertmanager: the system clock, or a controllable one for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the time (timezone-aware UTC)."""

    def now(self) -> datetime:
        """The current instant."""


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """The current instant (UTC)."""
        return datetime.now(UTC)


class FakeClock:
    """A clock tests move by hand: `clock.advance(30)` moves 30 seconds forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2024, 1, 15, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current (fake) instant."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move forward and return the new instant."""
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, when: datetime) -> None:
        """Jump to an instant."""
        self._now = when
