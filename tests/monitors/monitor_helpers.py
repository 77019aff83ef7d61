"""Helpers for the monitor tests: scripted data sources and a manager on a fake clock."""

from __future__ import annotations

from typing import Any

import numpy as np

from pharos.monitors.alerts import MonitorAlert
from pharos.monitors.manager import MonitorManager
from pharos.monitors.model import MonitorConfig
from pharos.monitors.sources import Sample, Series

MIN = 60_000
T0 = 1_700_000_000_000


class ScriptedSources:
    """Instant values set by the test per query; remembers the times it was asked about."""

    def __init__(self) -> None:
        self.values: dict[str, list[Sample]] = {}
        self.logs: dict[str, list[Sample]] = {}
        self.asked: list[int] = []

    def set(self, query: str, value: float | None, **labels: str) -> None:
        """One series (replacing the query's values); None = no data."""
        self.values[query] = [] if value is None else [(dict(labels), value)]

    def set_many(self, query: str, samples: list[Sample]) -> None:
        """Several series."""
        self.values[query] = samples

    def promql_instant(self, query: str, t_ms: int) -> list[Sample]:
        self.asked.append(t_ms)
        return list(self.values.get(query, []))

    def promql_range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> list[Series]:
        raise AssertionError("not scripted")

    def logql_instant(self, tenant: str, query: str, t_ms: int) -> list[Sample]:
        self.asked.append(t_ms)
        return list(self.logs.get(query, []))


class Harness:
    """A manager with collected alerts and a clock the test moves."""

    def __init__(self, sources: Any = None) -> None:
        self.sources = sources or ScriptedSources()
        self.now = T0
        self.posted: list[list[MonitorAlert]] = []
        self.manager = MonitorManager(self.sources, self.posted.append, clock=lambda: self.now)

    def add(self, **fields: Any) -> MonitorConfig:
        """Create an API monitor from keyword fields."""
        cfg = MonitorConfig.model_validate(fields)
        self.manager.create(cfg)
        return cfg

    def step(self, minutes: float = 1) -> None:
        """Advance the clock and evaluate what is due."""
        self.now += round(minutes * MIN)
        self.manager.tick(self.now)

    def states(self, name: str) -> dict[tuple[tuple[str, str], ...], str]:
        """Group key -> state value."""
        return {k: g.state.value for k, g in self.manager.get(name).groups.items()}

    def state(self, name: str) -> str:
        """The state of a single-group monitor."""
        return self.manager.get(name).groups[()].state.value

    def last_alerts(self) -> list[MonitorAlert]:
        """The alerts of the latest post."""
        return self.posted[-1] if self.posted else []

    def firing(self) -> list[MonitorAlert]:
        """Alerts of the latest post that are still firing."""
        return [a for a in self.last_alerts() if a.ends_ms > self.now]


def series(labels: dict[str, str], start: int, step: int, values: np.ndarray) -> Series:
    """A range-query series."""
    return labels, start + step * np.arange(len(values), dtype=np.int64), np.asarray(values, float)
