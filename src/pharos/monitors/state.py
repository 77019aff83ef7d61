"""The monitor state machine: OK / WARN / ALERT / NO DATA per group, with recovery thresholds.

`next_state(prev, obs, levels)` judges one observation: a group enters ALERT when the value passes
`critical` and stays there until the recovery value is back past `critical_recovery`; WARN the
same with the warning pair. `GroupState` is what a monitor keeps per group between evaluations.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from pharos.monitors.model import MonitorConfig, is_above

GroupKey = tuple[tuple[str, str], ...]


class State(StrEnum):
    """A group's (or a monitor's) state."""

    OK = "OK"
    WARN = "WARN"
    ALERT = "ALERT"
    NO_DATA = "NO DATA"


SEVERITY = {State.OK: 0, State.WARN: 1, State.NO_DATA: 2, State.ALERT: 3}


def worst(states: list[State]) -> State:
    """The most severe state (OK when empty)."""
    return max(states, key=SEVERITY.__getitem__, default=State.OK)


@dataclass
class Observation:
    """One group's value for an evaluation; `recovery` is judged against the recovery
    thresholds (anomaly monitors: the fraction over the recovery window)."""

    value: float
    recovery: float

    @staticmethod
    def of(value: float) -> Observation:
        """An observation whose recovery value is the value itself."""
        return Observation(value, value)


@dataclass
class Levels:
    """Effective thresholds: `trigger(v, t)` passes a threshold, `holds(v, t)` is still beyond
    a recovery threshold."""

    trigger: Callable[[float, float], bool]
    holds: Callable[[float, float], bool]
    critical: float
    critical_recovery: float
    warning: float | None
    warning_recovery: float | None


def levels_for(m: MonitorConfig) -> Levels:
    """The thresholds a monitor's observations are judged by (defaults per type)."""
    t = m.thresholds
    comparison = m.comparison
    if m.type in ("anomaly", "outlier", "composite"):
        comparison = "above_or_equal"
    trigger = {"above": operator.gt, "above_or_equal": operator.ge,
               "below": operator.lt, "below_or_equal": operator.le}[comparison]
    holds = operator.gt if is_above(comparison) else operator.lt
    if m.type == "anomaly":
        critical = 1.0 if t.critical is None else t.critical
        rec = 0.0 if t.critical_recovery is None else t.critical_recovery
        warn_rec = t.warning_recovery if t.warning_recovery is not None else (0.0 if t.warning is not None else None)
        return Levels(trigger, holds, critical, rec, t.warning, warn_rec)
    if m.type == "outlier":
        return Levels(trigger, holds, 1.0, 0.0, None, None)
    if m.type == "composite":
        return Levels(trigger, holds, 2.0, 1.0, 1.0, 0.0)
    critical = float(t.critical if t.critical is not None else math.inf)
    rec = critical if t.critical_recovery is None else t.critical_recovery
    warn_rec = t.warning if t.warning_recovery is None else t.warning_recovery
    return Levels(trigger, holds, critical, rec, t.warning, warn_rec)


def next_state(prev: State, obs: Observation, lv: Levels) -> State:
    """The state after `obs`, with hysteresis from the recovery thresholds."""
    if math.isnan(obs.value):
        return prev
    if lv.trigger(obs.value, lv.critical) or (prev == State.ALERT and lv.holds(obs.recovery, lv.critical_recovery)):
        return State.ALERT
    if lv.warning is None:
        return State.OK
    assert lv.warning_recovery is not None
    held = prev in (State.ALERT, State.WARN) and lv.holds(obs.recovery, lv.warning_recovery)
    return State.WARN if lv.trigger(obs.value, lv.warning) or held else State.OK


def threshold_of(state: State, lv: Levels) -> float | None:
    """The threshold a state refers to (critical for ALERT and OK, warning for WARN)."""
    return lv.warning if state == State.WARN else lv.critical


@dataclass
class GroupState:
    """What a monitor remembers about one group."""

    labels: dict[str, str]
    first_seen_ms: int
    last_data_ms: int
    state: State = State.OK
    since_ms: int = 0
    value: float = math.nan
    evaluated: bool = False  # False while the new-group delay runs
    last_notified_ms: int = 0
    renotify_count: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        doc = asdict(self)
        doc["state"] = self.state.value
        doc["value"] = None if math.isnan(self.value) else self.value
        return doc

    @staticmethod
    def from_json(doc: dict[str, Any]) -> GroupState:
        """The inverse of `to_json`."""
        doc = dict(doc)
        doc["state"] = State(doc["state"])
        doc["value"] = math.nan if doc.get("value") is None else float(doc["value"])
        return GroupState(**doc)


@dataclass
class Transition:
    """One state change of one group (kept in the monitor's state history)."""

    at_ms: int
    labels: dict[str, str]
    from_state: State
    to_state: State
    value: float

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {"at_ms": self.at_ms, "labels": self.labels, "from": self.from_state.value,
                "to": self.to_state.value, "value": None if math.isnan(self.value) else self.value}

    @staticmethod
    def from_json(doc: dict[str, Any]) -> Transition:
        """The inverse of `to_json`."""
        value = math.nan if doc.get("value") is None else float(doc["value"])
        return Transition(int(doc["at_ms"]), dict(doc["labels"]), State(doc["from"]), State(doc["to"]), value)


@dataclass
class Notification:
    """A notification a monitor decided to send: trigger, recover or renotify."""

    at_ms: int
    kind: str  # trigger | recover | renotify
    labels: dict[str, str]
    state: State
    value: float
    occurrence: int = 0
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
