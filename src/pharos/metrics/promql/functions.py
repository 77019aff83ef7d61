"""PromQL function calls."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import promql_parser as pp

from pharos.metrics.model import METRIC_NAME, Labels, compile_anchored
from pharos.metrics.promql import labels as lb
from pharos.metrics.promql import rangefuncs
from pharos.metrics.promql.aggregate import format_value
from pharos.metrics.promql.annotations import arg_index, call_index, check_quantile, warn
from pharos.metrics.promql.engine import Evaluator, merge_duplicates, selector_matchers, unwrap
from pharos.metrics.promql.gostrings import go_quote, valid_name
from pharos.metrics.promql.histograms import histogram_fraction, histogram_quantile
from pharos.metrics.promql.values import PromQLError, RangeData, Scalar, String, Value, Vector
from pharos.metrics.promql.windows import window_bounds

MATH = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": np.sign,
    "acos": np.arccos,
    "acosh": np.arccosh,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "cos": np.cos,
    "cosh": np.cosh,
    "sin": np.sin,
    "sinh": np.sinh,
    "tan": np.tan,
    "tanh": np.tanh,
    "deg": np.degrees,
    "rad": np.radians,
}
TIME_FUNCS = {
    "minute",
    "hour",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "month",
    "year",
}
NATIVE_ONLY = {
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_stddev",
    "histogram_stdvar",
}
EXTENSIONS: dict[str, Any] = {}
"""Extension functions other modules register (name -> handler(ev, args) -> Value)."""
KEEP_NAME = {"sort", "sort_desc", "sort_by_label", "sort_by_label_desc", "label_replace", "label_join"}


def call(ev: Evaluator, node: Any) -> Value:
    """Evaluate a function call."""
    name = node.func.name
    args = list(node.args)
    if name in MATH:
        return _math(ev, MATH[name], args[0])
    if name in TIME_FUNCS:
        return _date(ev, name, args)
    handler = _HANDLERS.get(name) or EXTENSIONS.get(name)
    if handler is not None:
        return handler(ev, args)
    if any(isinstance(unwrap(a), (pp.MatrixSelector, pp.SubqueryExpr)) for a in args):
        return _range_call(ev, name, args)
    raise PromQLError(f"function {name!r} is not supported")


def _range_call(ev: Evaluator, name: str, args: list[Any]) -> Vector:
    idx = next(i for i, a in enumerate(args) if isinstance(unwrap(a), (pp.MatrixSelector, pp.SubqueryExpr)))
    extra = [ev.eval_scalar(a) for i, a in enumerate(args) if i != idx]
    rd = ev.eval_range(args[idx])
    if name == "quantile_over_time":
        check_quantile(ev, extra[0], arg_index(ev.expr_text, name, 0))
    w = _windows(ev, rd)
    values, present = rangefuncs.apply(name, w, extra)
    drop = rd.drop_name | (name not in rangefuncs.KEEP_NAME)
    return Vector(rd.labels, values, present, drop).compact()


def _windows(ev: Evaluator, rd: RangeData) -> rangefuncs.Windows:
    # Samples held at once (the fetched ones), as Prometheus's limit counts samples in memory,
    # not the sum over overlapping windows.
    ev.add_samples(len(rd.vals))
    lo, hi = window_bounds(rd.ts, rd.offsets, rd.ends, rd.range_ms)
    return rangefuncs.Windows(rd, lo, hi)


def _math(ev: Evaluator, fn: Any, arg: Any) -> Vector:
    v = ev.eval_vector(arg)
    with np.errstate(all="ignore"):
        return Vector(v.labels, fn(v.values), v.present, np.ones(v.n, bool))


def _with_values(v: Vector, values: np.ndarray, present: np.ndarray | None = None) -> Vector:
    return Vector(v.labels, values, v.present if present is None else present, np.ones(v.n, bool))


def _round(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    to = ev.eval_scalar(args[1]) if len(args) > 1 else np.ones(ev.steps)
    with np.errstate(all="ignore"):
        inv = 1.0 / to[None, :]
        return _with_values(v, np.floor(v.values * inv + 0.5) / inv)


def _clamp(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    lo, hi = ev.eval_scalar(args[1])[None, :], ev.eval_scalar(args[2])[None, :]
    with np.errstate(all="ignore"):
        vals = np.maximum(lo, np.minimum(hi, v.values))
    return _with_values(v, vals, v.present & ~(hi < lo)).compact()


def _clamp_min(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    return _with_values(v, np.maximum(ev.eval_scalar(args[1])[None, :], v.values))


def _clamp_max(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    return _with_values(v, np.minimum(ev.eval_scalar(args[1])[None, :], v.values))


def _date(ev: Evaluator, name: str, args: list[Any]) -> Vector:
    if args:
        v = ev.eval_vector(args[0])
    else:
        secs = ev.grid[None, :] / 1000.0
        v = Vector([()], secs, np.ones((1, ev.steps), bool), np.zeros(1, bool))
    out = np.full(v.values.shape, np.nan)
    for i, t in zip(*np.nonzero(v.present), strict=True):
        f = v.values[i, t]
        if np.isfinite(f):
            out[i, t] = _date_part(name, datetime.fromtimestamp(int(f), tz=UTC))
    return _with_values(v, out)


def _date_part(name: str, d: datetime) -> float:
    if name == "minute":
        return d.minute
    if name == "hour":
        return d.hour
    if name == "day_of_month":
        return d.day
    if name == "day_of_week":
        return (d.weekday() + 1) % 7
    if name == "day_of_year":
        return d.timetuple().tm_yday
    if name == "month":
        return d.month
    if name == "year":
        return d.year
    nxt = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)
    return (nxt - datetime(d.year, d.month, 1, tzinfo=UTC)).days


def _time(ev: Evaluator, args: list[Any]) -> Scalar:
    return Scalar(ev.grid / 1000.0)


def _query_time(which: str) -> Any:
    def run(ev: Evaluator, args: list[Any]) -> Scalar:
        value = {
            "start": ev.start_ms,
            "end": ev.end_ms,
            "step": ev.step_ms,
            "range": ev.end_ms - ev.start_ms,
        }[which]
        return Scalar(np.full(ev.steps, value / 1000.0))

    return run


def _min_max_of(fn: Any) -> Any:
    def run(ev: Evaluator, args: list[Any]) -> Scalar:
        vals = [ev.eval_scalar(a) for a in args]
        out = vals[0]
        for v in vals[1:]:
            out = fn(out, v)
        return Scalar(out)

    return run


def _pi(ev: Evaluator, args: list[Any]) -> Scalar:
    return Scalar(np.full(ev.steps, np.pi))


def _vector(ev: Evaluator, args: list[Any]) -> Vector:
    s = ev.eval_scalar(args[0])
    return Vector([()], s[None, :].copy(), np.ones((1, ev.steps), bool), np.zeros(1, bool))


def _scalar(ev: Evaluator, args: list[Any]) -> Scalar:
    v = ev.eval_vector(args[0])
    if v.n == 0:
        return Scalar(np.full(ev.steps, np.nan))
    count = v.present.sum(axis=0)
    first = np.argmax(v.present, axis=0)
    vals = v.values[first, np.arange(ev.steps)]
    return Scalar(np.where(count == 1, vals, np.nan))


def _timestamp(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    if v.sample_ts is not None:
        ts = v.sample_ts / 1000.0
    else:
        ts = np.broadcast_to(ev.grid[None, :] / 1000.0, v.values.shape).copy()
    return _with_values(v, ts)


def absent_labels(node: Any) -> Labels:
    """The labels absent() reports: the selector's equality matchers (not repeated ones)."""
    node = unwrap(node)
    if isinstance(node, pp.MatrixSelector):
        node = node.vector_selector
    if not isinstance(node, pp.VectorSelector):
        return ()
    seen: dict[str, str | None] = {}
    for matchers in selector_matchers(node)[:1]:
        for m in matchers:
            if m.name == METRIC_NAME:
                continue
            if m.name in seen:
                seen[m.name] = None
            else:
                seen[m.name] = m.value if m.op.value == "=" else None
    return tuple(sorted((n, v) for n, v in seen.items() if v is not None and v != ""))


def _absent(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    missing: Any = ~v.present.any(axis=0) if v.n else np.ones(ev.steps, bool)
    return Vector(
        [absent_labels(args[0])], np.ones((1, ev.steps)), missing[None, :], np.zeros(1, bool)
    ).compact()


def _absent_over_time(ev: Evaluator, args: list[Any]) -> Vector:
    rd = ev.eval_range(args[0])
    w = _windows(ev, rd)
    missing = ~(w.count > 0).any(axis=0) if rd.n else np.ones(len(rd.ends), bool)
    return Vector(
        [absent_labels(args[0])], np.ones((1, ev.steps)), missing[None, :], np.zeros(1, bool)
    ).compact()


def _sort_warning(ev: Evaluator, name: str) -> None:
    if ev.range_query:
        msg = "sort is ineffective for range queries since results are always ordered by labels"
        warn(ev, msg, call_index(ev.expr_text, name))


def _sort(desc: bool) -> Any:
    def run(ev: Evaluator, args: list[Any]) -> Vector:
        v = ev.eval_vector(args[0])
        _sort_warning(ev, "sort_desc" if desc else "sort")
        if ev.steps != 1 or v.n == 0:
            return v
        vals = v.values[:, 0]
        key = np.where(np.isnan(vals), np.inf, -vals if desc else vals)
        return v.take(np.lexsort((key,)))

    return run


def _natural_key(s: str) -> list[Any]:
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", s) if p]


def _sort_by_label(desc: bool) -> Any:
    def run(ev: Evaluator, args: list[Any]) -> Vector:
        v = ev.eval_vector(args[0])
        _sort_warning(ev, "sort_by_label_desc" if desc else "sort_by_label")
        names = [_string(ev, a) for a in args[1:]]
        if ev.steps != 1 or v.n == 0:
            return v
        order = sorted(
            range(v.n),
            key=lambda i: ([_natural_key(lb.get(v.labels[i], n)) for n in names], v.labels[i]),
            reverse=desc,
        )
        return v.take(order)

    return run


def _string(ev: Evaluator, node: Any) -> str:
    s = ev.eval(node)
    if not isinstance(s, String):
        raise PromQLError("expected string argument")
    return s.value


_TEMPLATE = re.compile(r"\$(\$|\{(\w*)\}|(\w+))")


def expand(template: str, m: re.Match[str]) -> str:
    """Go regexp.Expand: $1, ${1}, $name, ${name}, $$."""

    def sub(t: re.Match[str]) -> str:
        if t.group(1) == "$":
            return "$"
        ref = t.group(2) if t.group(2) is not None else t.group(3)
        try:
            if ref.isdigit():
                return m.group(int(ref)) or ""
            return m.group(ref) or ""
        except IndexError:
            return ""

    return _TEMPLATE.sub(sub, template)


def _valid_label_name(name: str) -> bool:
    return valid_name(name)


def _relabel(v: Vector, labels: list[Labels], dst: str) -> Vector:
    drop = v.drop_name & (dst != METRIC_NAME)
    out = Vector(labels, v.values, v.present, drop)
    if len(set(labels)) != len(labels):
        out = merge_duplicates(out)
    return out


def _label_replace(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    dst, repl, src, regex = (_string(ev, a) for a in args[1:5])
    try:
        rx = compile_anchored(regex)
    except re.error as err:
        raise PromQLError(f'invalid regular expression in label_replace(): "{regex}"') from err
    if not _valid_label_name(dst):
        raise PromQLError(f"invalid destination label name in label_replace(): {go_quote(dst)}")
    out = []
    for ls in v.labels:
        m = rx.match(lb.get(ls, src))
        out.append(lb.set_label(ls, dst, expand(repl, m)) if m else ls)
    return _relabel(v, out, dst)


def _label_join(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    dst, sep = _string(ev, args[1]), _string(ev, args[2])
    srcs = [_string(ev, a) for a in args[3:]]
    if not _valid_label_name(dst):
        raise PromQLError(f"invalid destination label name in label_join(): {go_quote(dst)}")
    out = [lb.set_label(ls, dst, sep.join(lb.get(ls, s) for s in srcs)) for ls in v.labels]
    return _relabel(v, out, dst)


def _histogram_quantile(ev: Evaluator, args: list[Any]) -> Vector:
    q = ev.eval_scalar(args[0])
    v = ev.eval_vector(args[1])
    check_quantile(ev, q, arg_index(ev.expr_text, "histogram_quantile", 0))
    return histogram_quantile(ev, q, v, arg_index(ev.expr_text, "histogram_quantile", 1))


def _histogram_quantiles(ev: Evaluator, args: list[Any]) -> Vector:
    v = ev.eval_vector(args[0])
    label = _string(ev, args[1])
    parts = []
    for i, a in enumerate(args[2:], start=2):
        q = ev.eval_scalar(a)
        check_quantile(ev, q, arg_index(ev.expr_text, "histogram_quantiles", i))
        res = histogram_quantile(ev, q, v, arg_index(ev.expr_text, "histogram_quantiles", 0))
        qs = repr(float(q[0])) if np.isfinite(q[0]) else format_value(float(q[0]))
        parts.append(
            Vector([lb.set_label(ls, label, qs) for ls in res.labels], res.values, res.present, res.drop_name)
        )
    return _concat(parts, ev.steps)


def _concat(parts: list[Vector], steps: int) -> Vector:
    parts = [p for p in parts if p.n]
    if not parts:
        return Vector.empty(steps)
    out = Vector(
        [ls for p in parts for ls in p.labels],
        np.concatenate([p.values for p in parts]),
        np.concatenate([p.present for p in parts]),
        np.concatenate([p.drop_name for p in parts]),
    )
    return merge_duplicates(out)


def _histogram_fraction(ev: Evaluator, args: list[Any]) -> Vector:
    lower, upper = ev.eval_scalar(args[0]), ev.eval_scalar(args[1])
    v = ev.eval_vector(args[2])
    return histogram_fraction(ev, lower, upper, v, arg_index(ev.expr_text, "histogram_fraction", 2))


def _native_only(ev: Evaluator, args: list[Any]) -> Vector:
    for a in args:
        ev.eval(a)
    return Vector.empty(ev.steps)


_HANDLERS: dict[str, Any] = {
    "round": _round,
    "clamp": _clamp,
    "clamp_min": _clamp_min,
    "clamp_max": _clamp_max,
    "time": _time,
    "pi": _pi,
    "vector": _vector,
    "scalar": _scalar,
    "timestamp": _timestamp,
    "absent": _absent,
    "absent_over_time": _absent_over_time,
    "sort": _sort(False),
    "sort_desc": _sort(True),
    "sort_by_label": _sort_by_label(False),
    "sort_by_label_desc": _sort_by_label(True),
    "label_replace": _label_replace,
    "label_join": _label_join,
    "histogram_quantile": _histogram_quantile,
    "histogram_quantiles": _histogram_quantiles,
    "histogram_fraction": _histogram_fraction,
    "start": _query_time("start"),
    "end": _query_time("end"),
    "step": _query_time("step"),
    "range": _query_time("range"),
    "min_of": _min_max_of(np.minimum),
    "max_of": _min_max_of(np.maximum),
    **{n: _native_only for n in NATIVE_ONLY},
}
