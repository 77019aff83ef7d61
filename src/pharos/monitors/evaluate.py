"""One evaluation of a monitor: its query's values reduced to one observation per group.

Every type ends in `{group key: Observation}`; the state machine (`state.py`) judges them.
Series are grouped by the monitor's `group_by` labels (no group_by: one group, `()`); within a
group the worst value counts (the largest for `above`, the smallest for `below`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from pharos.monitors import rolling as rl
from pharos.monitors.anomaly import anomaly_band
from pharos.monitors.composite import parse_composite
from pharos.monitors.forecast import forecast_path
from pharos.monitors.model import MonitorConfig, is_above
from pharos.monitors.outliers import outliers
from pharos.monitors.sources import Sample, Series, SourceError, Sources
from pharos.monitors.state import GroupKey, Observation, State

Observations = dict[GroupKey, Observation]


def group_key(labels: Mapping[str, str], group_by: list[str]) -> GroupKey:
    """The group a series belongs to (sorted label pairs)."""
    return tuple(sorted((name, labels.get(name, "")) for name in group_by))


def reduce_groups(items: list[tuple[dict[str, str], Observation]], m: MonitorConfig) -> Observations:
    """Worst observation per group (NaN values are dropped)."""
    pick = max if is_above(m.comparison) or m.type in ("anomaly", "outlier") else min
    out: Observations = {}
    for labels, obs in items:
        if math.isnan(obs.value):
            continue
        key = group_key(labels, m.group_by)
        old = out.get(key)
        out[key] = obs if old is None else Observation(pick(old.value, obs.value), pick(old.recovery, obs.recovery))
    return out


def evaluate(m: MonitorConfig, sources: Sources, t_ms: int, states: Mapping[str, State]) -> Observations:
    """Observations of monitor `m` at `t_ms` (the evaluation delay is already applied);
    `states` holds the other monitors' overall states (for composites)."""
    if m.type == "composite":
        return evaluate_composite(m, states)
    if m.type == "metric":
        return _instant(m, sources.promql_instant(m.query, t_ms))
    if m.type == "log":
        return _instant(m, sources.logql_instant(m.tenant, m.query, t_ms))
    if m.type == "anomaly":
        return evaluate_anomaly(m, sources, t_ms)
    if m.type == "forecast":
        return evaluate_forecast(m, sources, t_ms)
    return evaluate_outlier(m, sources, t_ms)


def _instant(m: MonitorConfig, samples: list[Sample]) -> Observations:
    return reduce_groups([(labels, Observation.of(v)) for labels, v in samples], m)


def _matrix(series: list[Series], grid: np.ndarray) -> np.ndarray:
    """(n, len(grid)) values with NaN where a series has no point."""
    out = np.full((len(series), len(grid)), np.nan)
    for i, (_, ts, vals) in enumerate(series):
        idx = np.searchsorted(grid, ts)
        ok = (idx < len(grid)) & (grid[np.minimum(idx, len(grid) - 1)] == ts)
        out[i, idx[ok]] = vals[ok]
    return out


def _range(m: MonitorConfig, sources: Sources, t_ms: int, span_s: float, step_s: float) -> tuple[list[Series], np.ndarray]:
    step = max(1, round(step_s * 1000))
    points = min(10_000, max(2, int(span_s * 1000 // step)))
    start = t_ms - (points - 1) * step
    grid = np.arange(start, t_ms + 1, step, dtype=np.int64)
    series = sources.promql_range(m.query, start, t_ms, step)
    return series, _matrix(series, grid)


def _fraction(flags: np.ndarray, valid: np.ndarray, points: int) -> np.ndarray:
    """Per row: anomalous points / valid points over the last `points` columns (NaN if none)."""
    f, v = flags[:, -points:], valid[:, -points:]
    n = v.sum(axis=1)
    with np.errstate(all="ignore"):
        return np.where(n > 0, (f & v).sum(axis=1) / np.maximum(n, 1), np.nan)


def evaluate_anomaly(m: MonitorConfig, sources: Sources, t_ms: int) -> Observations:
    """Fraction of points outside the anomaly band over the trigger and the recovery window."""
    a = m.anomaly
    series, x = _range(m, sources, t_ms, a.history, a.step)
    if not series:
        return {}
    season = None if a.seasonality == "none" or a.algorithm == "basic" else a.seasonality
    try:
        band = anomaly_band(x, a.algorithm, a.bounds, season, a.step)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    valid = np.isfinite(band.score)
    flags = np.nan_to_num(band.score) > 1.0
    trig = _fraction(flags, valid, max(1, round(a.trigger_window / a.step)))
    rec = _fraction(flags, valid, max(1, round(a.recovery_window / a.step)))
    items = [(labels, Observation(float(trig[i]), float(rec[i]))) for i, (labels, _, _) in enumerate(series)]
    return reduce_groups(items, m)


def evaluate_forecast(m: MonitorConfig, sources: Sources, t_ms: int) -> Observations:
    """The band edge (upper for `above`, lower for `below`) at its extreme within the horizon."""
    f = m.forecast
    series, x = _range(m, sources, t_ms, f.history, f.step)
    steps = max(1, round(f.horizon / f.step))
    items = []
    for i, (labels, _, _) in enumerate(series):
        history = _trimmed(x[i])
        if len(history) < 3:
            continue
        try:
            fc = forecast_path(history, steps, f.algorithm, f.model, f.seasonality, f.step, f.bounds)
        except ValueError:
            continue  # not enough history for this model yet: no data for the series
        edge = np.max(fc.upper) if is_above(m.comparison) else np.min(fc.lower)
        items.append((labels, Observation.of(float(edge))))
    return reduce_groups(items, m)


def _trimmed(row: np.ndarray) -> np.ndarray:
    """The series from its first point, gaps carried forward."""
    finite = np.flatnonzero(np.isfinite(row))
    if not len(finite):
        return row[:0]
    return rl.ffill(row[finite[0]:][None, :])[0]


def evaluate_outlier(m: MonitorConfig, sources: Sources, t_ms: int) -> Observations:
    """1 for the members of the query's group of series that are outliers over the window, else 0."""
    o = m.outlier
    series, x = _range(m, sources, t_ms, o.window, o.step)
    if not series:
        return {}
    try:
        mask = outliers(x, o.algorithm, o.tolerance, o.pct)
    except ValueError as exc:
        raise SourceError(str(exc)) from exc
    items = [(labels, Observation.of(float(mask[i]))) for i, (labels, _, _) in enumerate(series)]
    return reduce_groups(items, m)


def evaluate_composite(m: MonitorConfig, states: Mapping[str, State]) -> Observations:
    """2 when the expression holds with ALERT as true, 1 when it holds with WARN or ALERT as
    true, else 0; one group."""
    expr = parse_composite(m.query)
    names = expr.names()
    if names and all(states.get(n) in (None, State.NO_DATA) for n in names):
        return {}
    critical = expr.evaluate({n: states.get(n) == State.ALERT for n in names})
    warning = expr.evaluate({n: states.get(n) in (State.ALERT, State.WARN) for n in names})
    value = 2.0 if critical else 1.0 if warning else 0.0
    return {(): Observation.of(value)}
