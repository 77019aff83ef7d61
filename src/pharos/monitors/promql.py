"""PromQL extension functions: anomaly bands and scores, forecasts, outliers.

Importing this module registers the functions with promql-parser (`register_extra_functions`)
and with the engine (`functions.EXTENSIONS`), so they parse and evaluate anywhere PromQL runs once
`pharos.monitors.promql` has been imported (call `register()` again after a parser reset).

The inner expression is evaluated on the query's step grid extended backwards by enough history
for the model (at most `MAX_HISTORY` points), and only past points feed each step's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import promql_parser as pp

from pharos.metrics.promql import functions as fn
from pharos.metrics.promql.engine import Evaluator
from pharos.metrics.promql.values import PromQLError, String, Vector
from pharos.monitors.anomaly import BAND_OF, anomaly_band
from pharos.monitors.forecast import forecast_at
from pharos.monitors.outliers import outliers

DEFAULT_STEP_MS = 300_000  # history resolution of instant queries
MAX_HISTORY = 4096  # points of history evaluated before the query's first step
V, S, N = pp.ValueType.Vector, pp.ValueType.String, pp.ValueType.Scalar

Handler = Callable[[Evaluator, list[Any]], Vector]


def _history_grid(ev: Evaluator, seconds: float) -> tuple[np.ndarray, int, float]:
    """The extended grid, how many leading points were added, and its step in seconds."""
    step = ev.step_ms if ev.step_ms > 0 else DEFAULT_STEP_MS
    extra = int(min(MAX_HISTORY, max(1, seconds * 1000 // step)))
    first = int(ev.grid[0]) - extra * step
    if len(ev.grid) > 1 and np.any(np.diff(ev.grid) != step):
        raise PromQLError("extension functions need an evenly spaced step grid")
    grid = np.concatenate([np.arange(first, int(ev.grid[0]), step, dtype=np.int64), ev.grid])
    return grid, extra, step / 1000.0


def _inner(ev: Evaluator, node: Any, history_s: float) -> tuple[Vector, np.ndarray, int, float]:
    """The inner vector on the extended grid as an (n, T) array with NaN where absent."""
    grid, extra, step_s = _history_grid(ev, history_s)
    child = ev.child(grid)
    v = child.eval_vector(node)
    ev.samples = child.samples
    return v, np.where(v.present, v.values, np.nan), extra, step_s


def _text(ev: Evaluator, node: Any) -> str:
    value = ev.eval(node)
    if not isinstance(value, String):
        raise PromQLError("expected string argument")
    return value.value


def _number(ev: Evaluator, node: Any) -> float:
    return float(ev.eval_scalar(node)[0])


def _result(v: Vector, values: np.ndarray, extra: int) -> Vector:
    vals = values[:, extra:]
    present = v.present[:, extra:] & np.isfinite(vals)
    return Vector(v.labels, vals, present, np.ones(v.n, bool)).compact()


def _anomaly(part: str) -> Handler:
    def run(ev: Evaluator, args: list[Any]) -> Vector:
        algorithm = _text(ev, args[1])
        bounds = _number(ev, args[2])
        seasonality = _text(ev, args[3]) if len(args) > 3 else ("auto" if algorithm != "basic" else None)
        history = 3 * 7 * 86_400 if seasonality in ("weekly", "auto") else 4 * 86_400
        v, x, extra, step_s = _inner(ev, args[0], history)
        if part != "score":  # the band alone: skip a score that is not asked for
            algorithm = BAND_OF.get(algorithm, algorithm)
        try:
            band = anomaly_band(x, algorithm, bounds, seasonality, step_s)
        except ValueError as err:
            raise PromQLError(str(err)) from err
        return _result(v, getattr(band, part), extra)

    return run


def _forecast(part: str) -> Handler:
    def run(ev: Evaluator, args: list[Any]) -> Vector:
        algorithm = _text(ev, args[1])
        horizon_s = _number(ev, args[2])
        option = _text(ev, args[3]) if len(args) > 3 else ""
        model = option if algorithm == "linear" and option else "reactive"
        seasonality = (option or "daily") if algorithm == "seasonal" else None
        v, x, extra, step_s = _inner(ev, args[0], 4 * 86_400 + horizon_s)
        try:
            fc = forecast_at(x, max(1, round(horizon_s / step_s)), algorithm, model, seasonality, step_s)
        except ValueError as err:
            raise PromQLError(str(err)) from err
        return _result(v, getattr(fc, part), extra)

    return run


def _outliers(ev: Evaluator, args: list[Any]) -> Vector:
    """The members of the group that are outliers over the query range (whole span)."""
    algorithm = _text(ev, args[1])
    tolerance = _number(ev, args[2]) if len(args) > 2 else None
    pct = _number(ev, args[3]) if len(args) > 3 else 20.0
    v = ev.eval_vector(args[0])
    x = np.where(v.present, v.values, np.nan)
    try:
        mask = outliers(x, algorithm, tolerance, pct)
    except ValueError as err:
        raise PromQLError(str(err)) from err
    return v.take(np.flatnonzero(mask))


FUNCTIONS: dict[str, tuple[list[Any], int, Handler]] = {
    # name: (argument types, variadic (last type optional), handler)
    "anomaly_upper": ([V, S, N, S], 1, _anomaly("upper")),
    "anomaly_lower": ([V, S, N, S], 1, _anomaly("lower")),
    "anomaly_score": ([V, S, N, S], 1, _anomaly("score")),
    "forecast": ([V, S, N, S], 1, _forecast("value")),
    "forecast_upper": ([V, S, N, S], 1, _forecast("upper")),
    "forecast_lower": ([V, S, N, S], 1, _forecast("lower")),
    "outliers": ([V, S, N], 2, _outliers),
}


def register() -> None:
    """Make the functions known to the parser and the engine (idempotent)."""
    specs = [pp.Function(n, t, V, variadic=var) for n, (t, var, _) in FUNCTIONS.items() if not _parses(n)]
    if specs:
        pp.register_extra_functions(specs)
    for name, (_, _, handler) in FUNCTIONS.items():
        fn.EXTENSIONS[name] = handler


def _parses(name: str) -> bool:
    sample = {str(V): "x", str(S): '"a"', str(N): "1"}
    try:
        pp.parse(f"{name}({', '.join(sample[str(t)] for t in FUNCTIONS[name][0])})")
    except ValueError:
        return False
    return True


register()
