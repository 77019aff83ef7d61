"""The notification pipeline of one group flush, as Alertmanager's stages run it:

time intervals (active/mute) -> inhibition -> silences -> per integration: dedup against the
notification log (new firing alerts, newly resolved ones when `send_resolved`, or the repeat
interval passed) -> send with retries and backoff -> log what was notified.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import aiohttp
from prometheus_client import Counter, Histogram

from pharos.alertmanager.clock import Clock
from pharos.alertmanager.config import AMConfig, Integration, Receiver, RouteConfig
from pharos.alertmanager.dispatch import AggrGroup
from pharos.alertmanager.inhibit import Inhibitor
from pharos.alertmanager.model import Alert
from pharos.alertmanager.nflog import Entry, NotificationLog
from pharos.alertmanager.receivers import NotifyError, send
from pharos.alertmanager.silences import Silences
from pharos.alertmanager.templates import Data, Templates
from pharos.alertmanager.timeinterval import in_any

log = logging.getLogger("pharos.alertmanager")

NOTIFICATIONS = Counter("pharos_alertmanager_notifications", "Notifications attempted.", ["integration"])
NOTIFICATIONS_FAILED = Counter(
    "pharos_alertmanager_notifications_failed", "Notifications that failed after retries.", ["integration"]
)
REQUESTS = Counter("pharos_alertmanager_notification_requests", "Delivery attempts.", ["integration"])
REQUESTS_FAILED = Counter(
    "pharos_alertmanager_notification_requests_failed", "Delivery attempts that failed.", ["integration"]
)
LATENCY = Histogram("pharos_alertmanager_notification_latency_seconds", "Delivery latency.", ["integration"],
                    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30))

Sleep = Callable[[float], Awaitable[None]]
MAX_ATTEMPTS = 6
BACKOFF_S = 0.5
BACKOFF_MAX_S = 10.0


def needs_update(entry: Entry | None, firing: set[int], resolved: set[int], send_resolved: bool,
                 repeat: timedelta, now: datetime) -> bool:
    """Alertmanager's DedupStage decision."""
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.timestamp < now - repeat


class Pipeline:
    """Runs the stages for a group flush; its `notify` is the dispatcher's callback."""

    def __init__(self, config: AMConfig, silences: Silences, inhibitor: Inhibitor, nflog: NotificationLog,
                 clock: Clock, external_url: str = "", sleep: Sleep = asyncio.sleep) -> None:
        self.config = config
        self.templates = Templates(config.templates)
        self.silences = silences
        self.inhibitor = inhibitor
        self.nflog = nflog
        self.clock = clock
        self.external_url = external_url
        self.sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        """The shared HTTP client session (created on first use, in the running loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def notify(self, group: AggrGroup, alerts: list[Alert]) -> bool:
        """Filter and deliver a group's alerts to its receiver; False when a delivery failed."""
        now = self.clock.now()
        if self.time_muted(group.route.conf, now):
            return True
        alerts = [a for a in alerts if not self.inhibitor.inhibited_by(a.labels)]
        alerts = [a for a in alerts if not self.silences.mutes(a.labels)]
        if not alerts:
            return True
        receiver = self.config.receivers[group.route.receiver]
        results = await asyncio.gather(*(self._integration(group, receiver, i, alerts, now)
                                          for i in receiver.integrations))
        return all(results)

    def time_muted(self, route: RouteConfig, now: datetime) -> bool:
        """Outside every active time interval, or inside a mute time interval."""
        intervals = self.config.time_intervals
        if route.active_time_intervals and not any(
                in_any(intervals[n], now) for n in route.active_time_intervals):
            return True
        return any(in_any(intervals[n], now) for n in route.mute_time_intervals)

    async def _integration(self, group: AggrGroup, receiver: Receiver, integ: Integration,
                           alerts: list[Alert], now: datetime) -> bool:
        firing = {a.fingerprint for a in alerts if not a.resolved_at(now)}
        resolved = {a.fingerprint for a in alerts if a.resolved_at(now)}
        name = f"{receiver.name}/{integ.kind}/{integ.index}"
        entry = self.nflog.query(group.key, name)
        repeat = timedelta(seconds=group.route.conf.repeat_interval)
        if not needs_update(entry, firing, resolved, integ.send_resolved, repeat, now):
            return True
        if not integ.send_resolved:
            if not firing:
                self.nflog.log(group.key, name, firing, resolved)
                return True
            alerts = [a for a in alerts if not a.resolved_at(now)]
        data = Data(receiver.name, group.labels, alerts, now, self.external_url)
        if await self._send_with_retries(integ, data, group.key, alerts):
            self.nflog.log(group.key, name, firing, resolved)
            return True
        return False

    async def _send_with_retries(self, integ: Integration, data: Data, group_key: str,
                                 alerts: list[Alert]) -> bool:
        NOTIFICATIONS.labels(integ.kind).inc()
        delay = BACKOFF_S
        for attempt in range(1, MAX_ATTEMPTS + 1):
            REQUESTS.labels(integ.kind).inc()
            try:
                with LATENCY.labels(integ.kind).time():
                    await send(self, integ, data, group_key, alerts)
                return True
            except NotifyError as exc:
                REQUESTS_FAILED.labels(integ.kind).inc()
                log.warning("notify %s (%s) attempt %d failed: %s", data.Receiver, integ.kind, attempt, exc)
                if not exc.retry:
                    break
            except Exception:  # a template error or a bug: do not retry, do not crash the loop
                REQUESTS_FAILED.labels(integ.kind).inc()
                log.exception("notify %s (%s) failed", data.Receiver, integ.kind)
                break
            if attempt < MAX_ATTEMPTS:
                await self.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)
        NOTIFICATIONS_FAILED.labels(integ.kind).inc()
        return False
