"""From monitor states to Alertmanager alerts, and the message templates.

Every group that is not OK (and not muted) is one firing alert with labels `alertname` (the
monitor's name), `severity` (`critical` for ALERT and NO DATA, `warning` for WARN),
`monitor_type`, the group labels, the monitor's own `labels`, `nodata="true"` for NO DATA and
`renotify="N"` from the N-th renotification on; annotations `message` (the rendered template)
and, once renotified, `escalation`. Alerts that stop being wanted are sent once more as
resolved (endsAt = now). Firing alerts are re-sent on every evaluation with an end time a few
intervals ahead, as Prometheus does, so an Alertmanager that restarts learns them again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pharos.monitors.model import MonitorConfig
from pharos.monitors.state import GroupState, State
from pharos.rules.funcs import prometheus_funcs
from pharos.rules.template import Template, TemplateError

AlertKey = tuple[tuple[str, str], ...]
RESEND_FACTOR = 4
MIN_VALIDITY_MS = 5 * 60_000


@dataclass
class MonitorAlert:
    """One alert as the monitor posts it; times in ms (0 = unset)."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_ms: int
    ends_ms: int
    value: float
    query: str


def render(text: str, m: MonitorConfig, g: GroupState | None, state: State, value: float,
           threshold: float | None, occurrence: int = 0) -> str:
    """Expand a message template; errors render as `<error expanding template: ...>`."""
    if "{{" not in text:
        return text
    labels = dict(g.labels) if g is not None else {}
    data = {"Name": m.name, "Type": m.type, "Query": m.query, "State": state.value,
            "Value": value, "Threshold": "" if threshold is None else threshold,
            "Labels": labels, "Occurrence": occurrence}
    variables = {"name": m.name, "state": state.value, "value": value,
                 "threshold": data["Threshold"], "labels": labels, "occurrence": occurrence}
    try:
        return Template("message", text, prometheus_funcs()).execute(data, variables)
    except TemplateError as exc:
        return f"<error expanding template: {exc}>"
    except RecursionError:
        return "<error expanding template: too deep>"


def alert_labels(m: MonitorConfig, g: GroupState) -> dict[str, str]:
    """The labels of the alert of a group in its current state."""
    labels = {**m.labels, **g.labels, "alertname": m.name, "monitor_type": m.type,
              "severity": "warning" if g.state == State.WARN else "critical"}
    if g.state == State.NO_DATA:
        labels["nodata"] = "true"
    if g.renotify_count:
        labels["renotify"] = str(g.renotify_count)
    return labels


def wanted_alert(m: MonitorConfig, g: GroupState, threshold: float | None, now_ms: int) -> MonitorAlert:
    """The firing alert of a non-OK group."""
    value = g.value if g.state != State.NO_DATA else math.nan
    annotations = {"message": render(m.message, m, g, g.state, value, threshold, g.renotify_count)}
    if g.renotify_count and m.escalation_message:
        annotations["escalation"] = render(m.escalation_message, m, g, g.state, value, threshold,
                                           g.renotify_count)
    validity = max(MIN_VALIDITY_MS, round(RESEND_FACTOR * m.interval * 1000))
    return MonitorAlert(alert_labels(m, g), annotations, g.since_ms, now_ms + validity, value, m.query)


class AlertBook:
    """The alerts a monitor has out: diffing the wanted set gives what to send."""

    def __init__(self) -> None:
        self.active: dict[AlertKey, MonitorAlert] = {}

    def update(self, wanted: list[MonitorAlert], now_ms: int) -> list[MonitorAlert]:
        """Alerts to post now: all wanted ones, plus the no-longer-wanted ones as resolved."""
        new = {tuple(sorted(a.labels.items())): a for a in wanted}
        out = list(new.values())
        for key, old in self.active.items():
            if key not in new:
                out.append(MonitorAlert(old.labels, old.annotations, old.starts_ms, now_ms, old.value, old.query))
        self.active = new
        return out

    def resolve_all(self, now_ms: int) -> list[MonitorAlert]:
        """Everything out, as resolved (monitor deleted or muted)."""
        return self.update([], now_ms)

    def to_json(self) -> list[dict[str, Any]]:
        """The active alerts, JSON-ready."""
        return [{"labels": a.labels, "annotations": a.annotations, "starts_ms": a.starts_ms, "ends_ms": a.ends_ms,
                 "value": None if math.isnan(a.value) else a.value, "query": a.query}
                for a in self.active.values()]

    def load(self, docs: list[Mapping[str, Any]]) -> None:
        """Restore the active alerts saved by `to_json`."""
        for d in docs:
            value = math.nan if d.get("value") is None else float(d["value"])
            a = MonitorAlert(dict(d["labels"]), dict(d["annotations"]), int(d["starts_ms"]), int(d["ends_ms"]),
                             value, str(d.get("query", "")))
            self.active[tuple(sorted(a.labels.items()))] = a
