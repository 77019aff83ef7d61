"""Recording and alerting rules: one evaluation at a timestamp, and the alerts' state machine.

A rule's `eval(t_ms, query, limit)` returns the samples to append (recording results, or the
`ALERTS` / `ALERTS_FOR_STATE` series) and raises RuleEvalError on failure. Alert states follow
Prometheus 2.42: pending -> firing after `for`, inactive when the expression stops returning the
alert (kept `keep_firing_for` longer, and kept 15 minutes as resolved so the notifier can send
the resolution).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pharos.metrics.model import METRIC_NAME, Labels, make_labels
from pharos.rules.funcs import QuerySample, expand
from pharos.rules.rulefile import RuleDef

RESOLVED_RETENTION_MS = 15 * 60 * 1000
Sample = tuple[Labels, float]
QueryFn = Callable[[Any, int], list[Sample]]  # (expr AST or text, t_ms) -> instant vector


class RuleEvalError(Exception):
    """A rule evaluation that failed (its health becomes `err`)."""


class Health(StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    ERR = "err"


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass
class Alert:
    """One alert of an alerting rule; times in ms, 0 = unset."""

    labels: Labels
    annotations: dict[str, str]
    value: float
    active_at: int
    state: AlertState = AlertState.PENDING
    fired_at: int = 0
    resolved_at: int = 0
    last_sent_at: int = 0
    valid_until: int = 0
    keep_firing_since: int = 0

    def needs_sending(self, t_ms: int, resend_delay_ms: int) -> bool:
        """Firing or resolved alerts are sent when new, resolved since last sent, or due again."""
        if self.state == AlertState.PENDING:
            return False
        if self.resolved_at > self.last_sent_at:
            return True
        return self.last_sent_at + resend_delay_ms < t_ms


@dataclass
class RuleStatus:
    """What the API reports about a rule's last evaluation."""

    health: Health = Health.UNKNOWN
    last_error: str = ""
    last_evaluation_ms: int = 0
    evaluation_s: float = 0.0


def with_labels(base: Labels, extra: dict[str, str], name: str | None) -> Labels:
    """`base` with `extra` set (empty values delete) and __name__ set or removed."""
    d = dict(base)
    d.pop(METRIC_NAME, None)
    for k, v in extra.items():
        if v == "":
            d.pop(k, None)
        else:
            d[k] = v
    if name:
        d[METRIC_NAME] = name
    return make_labels(d)


class RecordingRule:
    """`record: name` — the expression's result stored under a new metric name."""

    kind = "recording"

    def __init__(self, d: RuleDef, group_labels: dict[str, str] | None = None) -> None:
        self.d = d
        self.name = d.record
        self.labels = {**(group_labels or {}), **d.labels}
        self.status = RuleStatus()
        self._renamed: dict[Labels, Labels] = {}  # result labels -> output labels, last evaluation

    def eval(self, t_ms: int, query: QueryFn, limit: int) -> list[Sample]:
        """The renamed result; same-labelset and limit violations are errors."""
        result = query(self.d.node, t_ms)
        known, renamed = self._renamed, {}
        for ls, _ in result:
            out_ls = known.get(ls)
            renamed[ls] = with_labels(ls, self.labels, self.name) if out_ls is None else out_ls
        self._renamed = renamed
        out = [(renamed[ls], v) for ls, v in result]
        if len({ls for ls, _ in out}) != len(out):
            raise RuleEvalError("vector contains metrics with the same labelset after applying rule labels")
        if limit > 0 and len(out) > limit:
            raise RuleEvalError(f"exceeded limit of {limit} with {len(out)} series")
        return out


@dataclass
class AlertContext:
    """What templates see besides the sample: external labels and URL, and `query`."""

    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""


class AlertingRule:
    """`alert: name` — pending/firing/inactive alerts for the expression's result."""

    kind = "alerting"

    def __init__(self, d: RuleDef, ctx: AlertContext, group_labels: dict[str, str] | None = None,
                 restored: bool = True) -> None:
        self.d = d
        self.name = d.alert
        self.labels = {**(group_labels or {}), **d.labels}
        self.ctx = ctx
        self.hold_ms = round(d.for_s * 1000)
        self.keep_firing_ms = round(d.keep_firing_for_s * 1000)
        self.active: dict[Labels, Alert] = {}
        self.restored = restored
        self.status = RuleStatus()
        texts = [*self.labels.values(), *d.annotations.values()]
        self._pure = not any("query" in t for t in texts)  # expansions depend on labels and value only
        self._expanded: dict[tuple[Labels, str], tuple[Labels, dict[str, str]]] = {}
        self._series: dict[tuple[Labels, str], Labels] = {}  # (alert labels, ALERTS state or "") -> labels

    # -- evaluation ------------------------------------------------------------------------
    def eval(self, t_ms: int, query: QueryFn, limit: int) -> list[Sample]:
        """Update alert states from the expression at `t_ms`; return ALERTS samples."""
        fresh = self._new_alerts(t_ms, query)
        for key, a in fresh.items():
            old = self.active.get(key)
            if old is not None and old.state != AlertState.INACTIVE:
                old.value, old.annotations = a.value, a.annotations
                continue
            self.active[key] = a
        out: list[Sample] = []
        n_active = 0
        for key, a in list(self.active.items()):
            if key not in fresh:
                if not self._keeps_firing(key, a, t_ms):
                    continue
            else:
                a.keep_firing_since = 0
            n_active += 1
            if a.state == AlertState.PENDING and t_ms - a.active_at >= self.hold_ms:
                a.state, a.fired_at = AlertState.FIRING, t_ms
            if self.restored:
                out.append(self.alerts_sample(a))
                out.append((self.for_state_labels(a), float(a.active_at // 1000)))
        if limit > 0 and n_active > limit:
            self.active = {}
            raise RuleEvalError(f"exceeded limit of {limit} with {n_active} alerts")
        return out

    def _keeps_firing(self, key: Labels, a: Alert, t_ms: int) -> bool:
        """An alert the expression no longer returns: keep firing, resolve or forget it."""
        keep = False
        if a.state == AlertState.FIRING and self.keep_firing_ms > 0:
            if a.keep_firing_since == 0:
                a.keep_firing_since = t_ms
            keep = t_ms - a.keep_firing_since < self.keep_firing_ms
        if a.state == AlertState.PENDING or (a.resolved_at and t_ms - a.resolved_at > RESOLVED_RETENTION_MS):
            del self.active[key]
        if a.state != AlertState.INACTIVE and not keep:
            a.state, a.resolved_at = AlertState.INACTIVE, t_ms
        return keep

    def _new_alerts(self, t_ms: int, query: QueryFn) -> dict[Labels, Alert]:
        """The alerts of the expression's result. Templates not calling `query` depend only on
        the sample, so their expansions are kept from one evaluation to the next."""
        result = query(self.d.node, t_ms)
        alerts: dict[Labels, Alert] = {}
        expanded: dict[tuple[Labels, str], tuple[Labels, dict[str, str]]] = {}
        for ls, v in result:
            key = (ls, v.hex())
            done = self._expanded.get(key) if self._pure else None
            if done is None:
                done = self._expand(ls, v, t_ms, query)
            if self._pure:
                expanded[key] = done
            labels, annotations = done
            if labels in alerts:
                raise RuleEvalError("vector contains metrics with the same labelset after applying alert labels")
            alerts[labels] = Alert(labels, dict(annotations), v, t_ms)
        self._expanded = expanded
        return alerts

    def _expand(self, ls: Labels, v: float, t_ms: int, query: QueryFn) -> tuple[Labels, dict[str, str]]:
        """An alert's labels and annotations, templates expanded, for one result sample."""
        def query_text(q: str) -> list[QuerySample]:
            return [QuerySample(dict(ls), v) for ls, v in query(q, t_ms)]

        metric = dict(ls)

        def exp(text: str) -> str:
            return expand(text, f"__alert_{self.name}", metric, v, self.ctx.external_labels,
                          self.ctx.external_url, query_text)
        extra = {k: exp(text) for k, text in self.labels.items()}
        extra["alertname"] = self.name
        annotations = {k: exp(text) for k, text in sorted(self.d.annotations.items())}
        return with_labels(ls, extra, None), annotations

    # -- series ----------------------------------------------------------------------------
    def alerts_sample(self, a: Alert) -> Sample:
        """The ALERTS sample: the rule's raw labels, overridden by the alert's, plus alertstate."""
        return self._series_labels(a.labels, str(a.state)), 1.0

    def for_state_labels(self, a: Alert) -> Labels:
        """Labels of the ALERTS_FOR_STATE series of an alert."""
        return self._series_labels(a.labels, "")

    def _series_labels(self, labels: Labels, state: str) -> Labels:
        """ALERTS (with `state`) or ALERTS_FOR_STATE (state "") labels, kept per alert."""
        out = self._series.get((labels, state))
        if out is None:
            if len(self._series) > 4 * len(self.active) + 64:
                self._series.clear()
            d = {k: v for k, v in self.labels.items() if v != ""}
            d.update(dict(labels))
            d.update({METRIC_NAME: "ALERTS_FOR_STATE" if state == "" else "ALERTS", "alertname": self.name})
            if state:
                d["alertstate"] = state
            out = self._series[(labels, state)] = make_labels(d)
        return out

    # -- notification ------------------------------------------------------------------------
    def alerts_to_send(self, t_ms: int, resend_delay_ms: int, interval_ms: int) -> list[Alert]:
        """Copies of the alerts due to be sent now (marking them sent)."""
        out = []
        delta = max(resend_delay_ms, interval_ms)
        for a in self.active.values():
            if a.needs_sending(t_ms, resend_delay_ms):
                a.last_sent_at = t_ms
                a.valid_until = t_ms + 4 * delta
                out.append(Alert(**vars(a)))
        return out

    def firing_state(self) -> AlertState:
        """The rule's state: the most severe of its alerts."""
        states = {a.state for a in self.active.values()}
        for s in (AlertState.FIRING, AlertState.PENDING):
            if s in states:
                return s
        return AlertState.INACTIVE

    def restore(self, a: Alert, down_at_ms: int, active_at_s: float, now_ms: int, grace_ms: int) -> None:
        """Prometheus's `for` state restore of one alert from its ALERTS_FOR_STATE sample."""
        restored_active = int(active_at_s) * 1000
        down_at = down_at_ms // 1000 * 1000
        remaining = self.hold_ms - (down_at - restored_active)
        if remaining <= 0:
            pass
        elif remaining < grace_ms:
            restored_active = now_ms + grace_ms - self.hold_ms
        else:
            restored_active += now_ms - down_at
        a.active_at = restored_active


Rule = RecordingRule | AlertingRule


def finite_or_none(v: float) -> float | None:
    """A value usable in JSON numbers (NaN/Inf become None)."""
    return v if math.isfinite(v) else None
