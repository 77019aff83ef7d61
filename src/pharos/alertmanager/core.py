"""The alertmanager: alert store, silences, inhibition, dispatcher, notification log, pipeline.

    am = Alertmanager(config, state_dir, clock=FakeClock())
    errors = am.put_alerts(alerts)         # API v2 POST semantics (defaults, validation)
    await am.dispatcher.run_due()          # flush due groups (the background loop does this live)

State files in `state_dir`: silences.json, nflog.json, alerts.json.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import Counter

from pharos.alertmanager.clock import Clock, SystemClock
from pharos.alertmanager.config import AMConfig
from pharos.alertmanager.dispatch import Dispatcher
from pharos.alertmanager.inhibit import Inhibitor
from pharos.alertmanager.matchers import Matcher
from pharos.alertmanager.model import ZERO_TIME, Alert, fp_hex
from pharos.alertmanager.nflog import NotificationLog
from pharos.alertmanager.notify import Pipeline, Sleep
from pharos.alertmanager.route import Route
from pharos.alertmanager.silences import Silences
from pharos.alertmanager.store import AlertStore
from pharos.metrics.scrape.relabel import is_valid_label_name
from pharos.tasks import cancel

log = logging.getLogger("pharos.alertmanager")
RECEIVED = Counter("pharos_alertmanager_alerts_received", "Alerts received.", ["status"])
INVALID = Counter("pharos_alertmanager_alerts_invalid", "Alerts refused as invalid.")


@dataclass
class AlertStatus:
    """What API v2 reports as an alert's `status`."""

    silenced_by: list[str]
    inhibited_by: list[str]

    @property
    def state(self) -> str:
        """"suppressed" when silenced or inhibited, else "active"."""
        return "suppressed" if self.silenced_by or self.inhibited_by else "active"


class Alertmanager:
    """Everything behind the Alertmanager API, with an injectable clock."""

    def __init__(self, config: AMConfig, state_dir: Path | None = None, *, clock: Clock | None = None,
                 external_url: str = "", sleep: Sleep = asyncio.sleep) -> None:
        self.clock: Clock = clock or SystemClock()
        self.state_dir = state_dir
        self.external_url = external_url
        self.sleep = sleep
        self.started = time.time()
        self.store = AlertStore(self.clock, self._state("alerts.json"))
        self.silences = Silences(self.clock, self._state("silences.json"))
        self.nflog = NotificationLog(self.clock, self._state("nflog.json"))
        self.config = config
        self._build(config)
        self.store.listeners.append(lambda a: self.dispatcher.insert(a))
        self.store.replay()
        self._task: asyncio.Task[None] | None = None

    def _state(self, name: str) -> Path | None:
        return self.state_dir / name if self.state_dir is not None else None

    def _build(self, config: AMConfig) -> None:
        self.route = Route.build(config.route)
        self.inhibitor = Inhibitor(config.inhibit_rules, self.store, self.clock)
        self.pipeline = Pipeline(config, self.silences, self.inhibitor, self.nflog, self.clock,
                                 self.external_url, self.sleep)
        self.dispatcher = Dispatcher(self.route, self.pipeline.notify, self.clock)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Run the dispatcher loop in the background (real time)."""
        self._task = asyncio.create_task(self.dispatcher.run(), name="pharos-alertmanager")

    async def stop(self) -> None:
        """Stop the loop, close HTTP sessions, save the alerts."""
        await cancel(self._task)
        self._task = None
        await self.dispatcher.stop()
        await self.pipeline.close()
        self.store.save()

    async def apply_config(self, config: AMConfig) -> None:
        """Switch to a new config: new routes and groups; alerts are re-dispatched (the
        notification log keeps them from being notified twice)."""
        running = self._task is not None
        await cancel(self._task)
        await self.dispatcher.stop()
        old_pipeline = self.pipeline
        self.config = config
        self._build(config)
        await old_pipeline.close()
        self.store.replay()
        if running:
            self.start()

    def maintain(self) -> None:
        """Drop long-resolved alerts, expired silences and notification log entries; save alerts."""
        self.store.gc(keep=timedelta(minutes=30))
        self.silences.gc()
        self.nflog.gc()
        self.store.save()

    # -- alerts --------------------------------------------------------------------------------
    def put_alerts(self, alerts: list[Alert]) -> list[str]:
        """Store alerts as API v2 POST does: fill start/end, validate, keep the valid ones.
        Returns the validation errors (empty when all were accepted)."""
        now = self.clock.now()
        resolve = timedelta(seconds=self.config.global_.resolve_timeout)
        errors = []
        for alert in alerts:
            _fill_times(alert, now, resolve)
            RECEIVED.labels("firing" if alert.ends_at > now else "resolved").inc()
            alert.labels = {k: v for k, v in alert.labels.items() if v != ""}
            problem = validate(alert)
            if problem:
                INVALID.inc()
                errors.append(problem)
                continue
            self.store.put(alert)
        return errors

    def status(self, alert: Alert) -> AlertStatus:
        """Silences and inhibitions in force for the alert now."""
        return AlertStatus(self.silences.mutes(alert.labels),
                           [fp_hex(fp) for fp in self.inhibitor.inhibited_by(alert.labels)])

    def receivers_of(self, alert: Alert) -> list[str]:
        """The receivers the alert routes to."""
        return [r.receiver for r in self.route.match(alert.labels)]

    def active_alerts(self) -> list[Alert]:
        """Alerts not yet resolved, by fingerprint."""
        now = self.clock.now()
        return sorted((a for a in self.store if not a.resolved_at(now)), key=lambda a: fp_hex(a.fingerprint))

    def silences_matching(self, matchers: list[Matcher]) -> list[Any]:
        """Silences whose equality view passes the API filter."""
        from pharos.alertmanager.matchers import matches_filter

        return [s for s in self.silences.all()
                if matches_filter(matchers, {m.name: m.value for m in s.matchers})]


def _fill_times(alert: Alert, now: datetime, resolve: timedelta) -> None:
    alert.updated_at = now
    if alert.starts_at == ZERO_TIME:
        alert.starts_at = now if alert.ends_at == ZERO_TIME else alert.ends_at
    if alert.ends_at == ZERO_TIME:
        alert.timeout = True
        alert.ends_at = now + resolve


def validate(alert: Alert) -> str:
    """Alertmanager's Alert.Validate message, or "" when valid."""
    if alert.starts_at == ZERO_TIME:
        return "start time missing"
    if alert.ends_at != ZERO_TIME and alert.ends_at < alert.starts_at:
        return "start time must be before end time"
    if not alert.labels:
        return "at least one label pair required"
    for name in alert.labels:
        if not is_valid_label_name(name):
            return f'invalid name "{name}"'
    for name in alert.annotations:
        if not is_valid_label_name(name):
            return f'invalid name "{name}"'
    return ""
