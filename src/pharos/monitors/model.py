"""Monitor definitions: the `monitors:` section of pharos.yml and the body of the monitors API.

A monitor names a query (PromQL, LogQL or a composite expression), how its value is judged
(comparison, warning/critical thresholds and their recovery thresholds) and how it notifies
(group_by, no-data, delays, renotify, message templates). See docs/monitors.md.

Durations accept Prometheus strings (`5m`) or numbers of seconds. Validation errors raise
pydantic errors of type "pharos" with a `path` below the field, as the config models do, so the
config loader reports them as `pharos.yml:LINE: monitors[i].key: message`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, NoReturn

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pharos.config.units import parse_duration
from pharos.monitors.composite import CompositeError, parse_composite

MonitorType = Literal["metric", "anomaly", "forecast", "outlier", "log", "composite"]
Comparison = Literal["above", "above_or_equal", "below", "below_or_equal"]
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
DEFAULT_MESSAGE = (
    "{{ .Name }} is {{ .State }}{{ if .Labels }} for {{ .Labels }}{{ end }}: "
    "value {{ .Value }}, threshold {{ .Threshold }}"
)


def fail(message: str, *path: str | int) -> NoReturn:
    """Raise a located validation error (the config loader turns it into file:line: key)."""
    raise PydanticCustomError("pharos", "{msg}", {"msg": message, "path": path})


def _to_seconds(value: Any, info: ValidationInfo) -> Any:
    """A Prometheus duration string; numbers of seconds too, except in config files (where, as
    in the other sections, only 0 may go without a unit)."""
    if isinstance(value, str):
        try:
            return parse_duration(value)
        except ValueError as exc:
            fail(str(exc))
    strict = bool(info.context and info.context.get("strict_formats"))
    if strict and isinstance(value, int | float) and not isinstance(value, bool) and value != 0:
        fail(f'not a valid duration string: "{value}" (a duration needs a unit, e.g. "{value}s")')
    return value


Seconds = Annotated[float, BeforeValidator(_to_seconds), Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, coerce_numbers_to_str=True)


class Thresholds(_Model):
    """Alert when the value passes `critical` (ALERT) or `warning` (WARN); recover once it is
    back past the recovery threshold (default: the threshold itself)."""

    critical: float | None = None
    critical_recovery: float | None = None
    warning: float | None = None
    warning_recovery: float | None = None


class AnomalyOptions(_Model):
    """Anomaly monitor: the fraction of anomalous points over the trigger and recovery windows."""

    algorithm: Literal["basic", "agile", "robust", "contextual"] = "agile"
    bounds: float = Field(default=2.0, gt=0)
    seasonality: Literal["hourly", "daily", "weekly", "auto", "none"] = "auto"
    trigger_window: Seconds = 900.0
    recovery_window: Seconds = 900.0
    step: Seconds = 60.0
    history: Seconds = 2 * 86400.0


class ForecastOptions(_Model):
    """Forecast monitor: alert when the band crosses the threshold within `horizon`."""

    algorithm: Literal["linear", "seasonal"] = "linear"
    model: Literal["reactive", "robust"] = "reactive"
    seasonality: Literal["hourly", "daily", "weekly"] = "daily"
    horizon: Seconds = 86400.0
    bounds: float = Field(default=2.0, ge=0)
    step: Seconds = 300.0
    history: Seconds = 4 * 86400.0


class OutlierOptions(_Model):
    """Outlier monitor: members of the group (series of the query) diverging over `window`."""

    algorithm: Literal["dbscan", "scaled_dbscan", "mad", "scaled_mad"] = "dbscan"
    tolerance: float | None = Field(default=None, gt=0)
    pct: float = Field(default=20.0, ge=0, le=100)
    window: Seconds = 3600.0
    step: Seconds = 60.0


class MonitorConfig(_Model):
    """One monitor."""

    name: str = Field(min_length=1)
    type: MonitorType
    query: str = Field(min_length=1)
    comparison: Comparison = "above"
    thresholds: Thresholds = Field(default_factory=Thresholds)
    group_by: list[str] = Field(default_factory=list)
    interval: Seconds = 60.0
    evaluation_delay: Seconds = 0.0
    new_group_delay: Seconds = 0.0
    notify_no_data: bool = False
    no_data_timeframe: Seconds = 600.0
    renotify_interval: Seconds = 0.0
    renotify_occurrences: int = Field(default=0, ge=0)
    escalation_message: str = ""
    message: str = DEFAULT_MESSAGE
    labels: dict[str, str] = Field(default_factory=dict)
    tenant: str = "fake"
    anomaly: AnomalyOptions = Field(default_factory=AnomalyOptions)
    forecast: ForecastOptions = Field(default_factory=ForecastOptions)
    outlier: OutlierOptions = Field(default_factory=OutlierOptions)

    @model_validator(mode="after")
    def _check(self) -> MonitorConfig:
        """Queries parse, thresholds are complete and ordered, names and templates are valid."""
        if "\n" in self.name:
            fail("a monitor name is one line", "name")
        if "/" in self.name:
            fail("a monitor name cannot contain '/' (it is a path segment of the monitors API)", "name")
        if self.interval <= 0:
            fail("the interval must be positive", "interval")
        _check_query(self)
        _check_thresholds(self)
        for i, name in enumerate(self.group_by):
            if not _LABEL_NAME.match(name):
                fail(f"{name!r} is not a valid label name", "group_by", i)
        for name in self.labels:
            if not _LABEL_NAME.match(name):
                fail(f"{name!r} is not a valid label name", "labels", name)
        _check_templates(self)
        return self

    def references(self) -> set[str]:
        """Monitors a composite refers to (empty for other types)."""
        return parse_composite(self.query).names() if self.type == "composite" else set()


def _check_query(m: MonitorConfig) -> None:
    if m.type == "composite":
        try:
            names = parse_composite(m.query).names()
        except CompositeError as exc:
            fail(f"invalid composite expression: {exc}", "query")
        if m.name in names:
            fail("a composite monitor cannot refer to itself", "query")
    elif m.type == "log":
        _check_logql(m.query)
    else:
        _check_promql(m.query)


def _check_promql(query: str) -> None:
    from pharos.metrics.promql.engine import parse
    from pharos.metrics.promql.values import PromQLError
    from pharos.monitors import promql as _extensions  # noqa: F401  (registers the extension functions)

    try:
        parse(query)
    except PromQLError as exc:
        fail(f"invalid PromQL query: {exc}", "query")


def _check_logql(query: str) -> None:
    from pharos.logs.logql import ParseError, parse
    from pharos.logs.logql import ast as A

    try:
        expr = parse(query)
    except ParseError as exc:
        fail(f"invalid LogQL query: {exc}", "query")
    if isinstance(expr, A.LogExpr):
        fail("a log monitor needs a LogQL metric query (e.g. count_over_time({...}[5m]))", "query")


def is_above(comparison: str) -> bool:
    """True for the `above*` comparisons."""
    return comparison.startswith("above")


def _check_thresholds(m: MonitorConfig) -> None:
    t = m.thresholds
    if m.type in ("metric", "log", "forecast") and t.critical is None:
        fail(f"a {m.type} monitor needs thresholds.critical", "thresholds", "critical")
    if m.type in ("composite", "outlier") and t.model_fields_set:
        fail(f"a {m.type} monitor takes no thresholds", "thresholds")
    if t.warning is None and t.warning_recovery is not None:
        fail("warning_recovery needs warning", "thresholds", "warning_recovery")
    if t.critical is None and t.critical_recovery is not None and m.type != "anomaly":
        fail("critical_recovery needs critical", "thresholds", "critical_recovery")
    sign = 1.0 if is_above(m.comparison) else -1.0
    word = "above" if sign > 0 else "below"
    pairs = [("warning", t.warning, "critical", t.critical),
             ("critical_recovery", t.critical_recovery, "critical", t.critical),
             ("warning_recovery", t.warning_recovery, "warning", t.warning)]
    for low_name, low, high_name, high in pairs:
        if m.type != "anomaly" and low is not None and high is not None and sign * low > sign * high:
            fail(f"{low_name} must not be {word} {high_name} for comparison {m.comparison}",
                 "thresholds", low_name)


def _check_templates(m: MonitorConfig) -> None:
    from pharos.rules.funcs import check_template
    from pharos.rules.template import TemplateError

    for field in ("message", "escalation_message"):
        try:
            check_template(getattr(m, field), field)
        except TemplateError as exc:
            fail(f"invalid template: {exc}", field)


def check_monitor_set(monitors: list[MonitorConfig]) -> list[MonitorConfig]:
    """Names are unique; composites refer to known monitors without cycles."""
    by_name: dict[str, MonitorConfig] = {}
    for i, m in enumerate(monitors):
        if m.name in by_name:
            fail(f"monitor {m.name!r} is defined twice", i, "name")
        by_name[m.name] = m
    for i, m in enumerate(monitors):
        for ref in sorted(m.references()):
            if ref not in by_name:
                fail(f"composite refers to an unknown monitor {ref!r}", i, "query")
    cycle = find_cycle(by_name)
    if cycle:
        index = next(i for i, m in enumerate(monitors) if m.name == cycle[0])
        fail(f"composite monitors refer to each other in a cycle: {' -> '.join(cycle)}", index, "query")
    return monitors


def find_cycle(by_name: dict[str, MonitorConfig]) -> list[str]:
    """A composite reference cycle (names, first repeated at the end), or []."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name):], name]
        if name in done or name not in by_name:
            return []
        for ref in sorted(by_name[name].references()):
            found = visit(ref, [*path, name])
            if found:
                return found
        done.add(name)
        return []

    for name in by_name:
        found = visit(name, [])
        if found:
            return found
    return []


MonitorList = Annotated[list[MonitorConfig], AfterValidator(check_monitor_set)]
