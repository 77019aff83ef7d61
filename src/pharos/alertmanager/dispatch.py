"""The dispatcher: alerts -> routes -> aggregation groups, flushed on group_wait/group_interval.

Time comes from an injectable clock. `run_due()` flushes every group whose timer has passed;
the background `run()` loop sleeps until the next timer or a new alert, so tests drive the
dispatcher by advancing a fake clock and calling `run_due()`, without sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pharos.alertmanager.clock import Clock
from pharos.alertmanager.model import Alert, fingerprint, labels_string, sort_alerts
from pharos.alertmanager.route import Route


@dataclass(eq=False)
class AggrGroup:
    """Alerts of one route that share the route's group_by labels."""

    route: Route
    labels: dict[str, str]
    key: str
    next_flush: datetime
    alerts: dict[int, Alert] = field(default_factory=dict)
    has_flushed: bool = False

    def snapshot(self) -> list[Alert]:
        """The alerts in notification order."""
        return sort_alerts(self.alerts.values())


Notify = Callable[[AggrGroup, list[Alert]], Awaitable[bool]]


class Dispatcher:
    """Owns the aggregation groups of one routing tree."""

    def __init__(self, route: Route, notify: Notify, clock: Clock) -> None:
        self.route = route
        self.notify = notify
        self.clock = clock
        self.groups: dict[tuple[str, int], AggrGroup] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[int]] = set()

    def insert(self, alert: Alert) -> None:
        """Put an alert into the group of every route it matches (creating groups as needed)."""
        now = self.clock.now()
        for route in self.route.match(alert.labels):
            group = self._group(route, alert, now)
            group.alerts[alert.fingerprint] = alert
            wait = timedelta(seconds=route.conf.group_wait)
            if not group.has_flushed and alert.starts_at + wait < now:
                group.next_flush = now
        self._wake.set()

    def _group(self, route: Route, alert: Alert, now: datetime) -> AggrGroup:
        labels = route.group_labels(alert.labels)
        gkey = (route.id, fingerprint(labels))
        group = self.groups.get(gkey)
        if group is None:
            group = AggrGroup(route, labels, f"{route.key}:{labels_string(labels)}",
                              now + timedelta(seconds=route.conf.group_wait))
            self.groups[gkey] = group
        return group

    def next_deadline(self) -> datetime | None:
        """When the earliest group is due."""
        return min((g.next_flush for g in self.groups.values()), default=None)

    async def run_due(self) -> int:
        """Flush every group that is due now; the number flushed."""
        now = self.clock.now()
        due = [g for g in self.groups.values() if g.next_flush <= now]
        for group in due:  # claimed before any await, so a concurrent run_due skips them
            group.next_flush = now + timedelta(seconds=group.route.conf.group_interval)
            group.has_flushed = True
        await asyncio.gather(*(self._flush(g, now) for g in due))
        return len(due)

    async def _flush(self, group: AggrGroup, now: datetime) -> None:
        alerts = group.snapshot()
        if not await self.notify(group, alerts):
            return
        for alert in alerts:
            if alert.resolved_at(now) and group.alerts.get(alert.fingerprint) is alert:
                del group.alerts[alert.fingerprint]
        if not group.alerts:
            self.groups = {k: g for k, g in self.groups.items() if g is not group}

    async def run(self) -> None:
        """Flush groups as their timers expire (real time); runs until cancelled."""
        while True:
            task = asyncio.create_task(self.run_due())  # slow receivers do not hold up other groups
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0)
            self._wake.clear()
            deadline = self.next_deadline()
            timeout = None if deadline is None else max(0.0, (deadline - self.clock.now()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def stop(self) -> None:
        """Cancel flushes in progress."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
