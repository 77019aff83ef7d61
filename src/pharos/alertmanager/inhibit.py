"""Inhibition: a firing source alert mutes target alerts that agree on the `equal` labels."""

from __future__ import annotations

from collections.abc import Iterable

from pharos.alertmanager.clock import Clock
from pharos.alertmanager.config import InhibitRule
from pharos.alertmanager.matchers import matches_all
from pharos.alertmanager.model import Alert, Labels, fingerprint


class Inhibitor:
    """Answers "is this label set inhibited, and by which alert?" from the current alerts."""

    def __init__(self, rules: list[InhibitRule], alerts: Iterable[Alert], clock: Clock) -> None:
        self.rules = rules
        self.alerts = alerts
        self.clock = clock

    def inhibited_by(self, labels: Labels) -> list[int]:
        """The fingerprint of an inhibiting alert ([] when none), as Alertmanager's Mutes."""
        now = self.clock.now()
        own = fingerprint(labels)
        for rule in self.rules:
            if not matches_all(rule.target, labels):
                continue
            two_sided = matches_all(rule.source, labels)
            for source in self.alerts:
                if source.resolved_at(now) or not matches_all(rule.source, source.labels):
                    continue
                if any(source.labels.get(n, "") != labels.get(n, "") for n in rule.equal):
                    continue
                if two_sided and matches_all(rule.target, source.labels):
                    continue
                if source.fingerprint == own:
                    continue
                return [source.fingerprint]
        return []
