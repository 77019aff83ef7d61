"""The PromQL evaluator: instant and range queries over the whole step grid at once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import promql_parser as pp

from pharos.metrics.model import METRIC_NAME, Labels, Matcher, MatchOp
from pharos.metrics.promql import labels as lb
from pharos.metrics.promql.gostrings import decode_byte_escapes
from pharos.metrics.promql.parse_errors import locate
from pharos.metrics.promql.values import (
    BadDataError,
    PromQLError,
    Querier,
    QueryTimeoutError,
    RangeData,
    Scalar,
    String,
    TooManySamplesError,
    Value,
    Vector,
    stale_mask,
    type_name,
)
from pharos.metrics.promql.windows import window_bounds

DEFAULT_LOOKBACK_MS = 5 * 60 * 1000
MAX_POINTS = 11_000
CHUNK_POINTS = 4_000_000  # series x steps evaluated at once by an instant-vector selector

_OPS = {
    "Equal": MatchOp.EQUAL,
    "NotEqual": MatchOp.NOT_EQUAL,
    "Re": MatchOp.REGEX,
    "NotRe": MatchOp.NOT_REGEX,
}


def _match_op(op: Any) -> MatchOp:
    return _OPS[str(op).rsplit(".", 1)[-1]]


@dataclass
class Limits:
    """Per-query limits."""

    max_samples: int = 50_000_000
    timeout_s: float = 120.0
    max_points: int = MAX_POINTS
    lookback_ms: int = DEFAULT_LOOKBACK_MS
    default_subquery_step_ms: int = 60_000


@dataclass
class QueryResult:
    """The outcome of a query: a value plus annotations."""

    value: Value | list[tuple[Labels, np.ndarray, np.ndarray]]
    result_type: str  # vector | matrix | scalar | string
    grid: np.ndarray
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    stats: QueryStats = field(default_factory=lambda: QueryStats())


@dataclass
class QueryStats:
    """Counters for `stats=all`: samples read from storage, samples held, evaluation time."""

    queryable_samples: int = 0
    peak_samples: int = 0
    eval_seconds: float = 0.0


def ms(td: timedelta | None) -> int:
    """A duration in milliseconds."""
    if td is None:
        return 0
    return td // timedelta(milliseconds=1)


def parse(expr: str) -> Any:
    """Parse a PromQL expression, raising BadDataError on syntax errors."""
    try:
        return _parse_go(expr)
    except BaseException as err:  # the binding raises ValueError, and PanicException (a BaseException)
        raise BadDataError(locate(expr, err, _parse_go)) from err


def _parse_go(expr: str) -> Any:
    return pp.parse(decode_byte_escapes(expr))


def unwrap(node: Any) -> Any:
    """The node inside any parentheses."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


class Evaluator:
    """Evaluates an AST over a grid of timestamps."""

    def __init__(
        self,
        querier: Querier,
        grid: np.ndarray,
        start_ms: int,
        end_ms: int,
        limits: Limits,
        at_override: int | None = None,
    ) -> None:
        self.querier = querier
        self.grid = grid
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.limits = limits
        self.at_override = at_override
        self.step_ms = 0
        self.expr: str | Any = ""  # the query as given (text or AST); see expr_text
        self.range_query = False
        self.deadline = time.monotonic() + limits.timeout_s
        self.started = time.perf_counter()
        self.samples = 0
        self.stats = QueryStats()
        self.warnings: list[str] = []
        self.infos: list[str] = []

    @property
    def steps(self) -> int:
        return len(self.grid)

    @property
    def expr_text(self) -> str:
        """The query text (an AST is printed only when an annotation needs a position)."""
        if not isinstance(self.expr, str):
            self.expr = str(self.expr)
        return self.expr

    def child(self, grid: np.ndarray) -> Evaluator:
        """An evaluator for a subquery's inner grid sharing limits and counters."""
        ev = Evaluator(self.querier, grid, self.start_ms, self.end_ms, self.limits, None)
        ev.deadline = self.deadline
        ev.step_ms = self.step_ms
        ev.expr = self.expr
        ev.samples = self.samples
        ev.stats = self.stats
        ev.warnings, ev.infos = self.warnings, self.infos
        return ev

    # -- bookkeeping ---------------------------------------------------------------------------
    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise QueryTimeoutError("query timed out in query execution")

    def add_samples(self, count: int) -> None:
        self.samples += int(count)
        self.stats.peak_samples = max(self.stats.peak_samples, self.samples)
        if self.samples > self.limits.max_samples:
            raise TooManySamplesError(
                "query processing would load too many samples into memory in query execution"
            )

    # -- dispatch ------------------------------------------------------------------------------
    def eval(self, node: Any) -> Value:
        """Evaluate any node."""
        self.check_time()
        if isinstance(node, pp.ParenExpr):
            return self.eval(node.expr)
        if isinstance(node, pp.NumberLiteral):
            return Scalar(np.full(self.steps, float(node.val)))
        if isinstance(node, pp.StringLiteral):
            return String(node.val)
        if isinstance(node, pp.VectorSelector):
            return self.vector_selector(node)
        if isinstance(node, pp.MatrixSelector):
            return self.matrix_selector(node)
        if isinstance(node, pp.SubqueryExpr):
            return self.subquery(node)
        if isinstance(node, pp.UnaryExpr):
            return self.unary(node)
        if isinstance(node, pp.BinaryExpr):
            from pharos.metrics.promql.binops import binary

            return binary(self, node)
        if isinstance(node, pp.AggregateExpr):
            from pharos.metrics.promql.aggregate import aggregate

            return aggregate(self, node)
        if isinstance(node, pp.Call):
            from pharos.metrics.promql.functions import call

            return call(self, node)
        raise PromQLError(f"unsupported expression {node}")

    def eval_vector(self, node: Any) -> Vector:
        v = self.eval(node)
        if not isinstance(v, Vector):
            raise PromQLError(f"expected instant vector, got {type_name(v)}")
        return v

    def eval_scalar(self, node: Any) -> np.ndarray:
        v = self.eval(node)
        if not isinstance(v, Scalar):
            raise PromQLError(f"expected scalar, got {type_name(v)}")
        return v.values

    def eval_range(self, node: Any) -> RangeData:
        v = self.eval(node)
        if not isinstance(v, RangeData):
            raise PromQLError(f"expected range vector, got {type_name(v)}")
        return v

    # -- selectors -----------------------------------------------------------------------------
    def window_ends(self, node: Any) -> np.ndarray:
        """Per step, the time a selector/subquery looks at: (step or @ time) - offset."""
        at = _at_ms(node, self.start_ms, self.end_ms)
        if at is None and self.at_override is not None:
            at = self.at_override
        base = self.grid if at is None else np.full(self.steps, at, np.int64)
        return base - ms(node.offset)

    def fetch(self, vs: Any, mint: int, maxt: int) -> tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray]:
        """Select the series of a vector selector, as sorted flat arrays."""
        sets = selector_matchers(vs)
        flat = getattr(self.querier, "select_flat", None)
        if flat is not None and len(sets) == 1:
            keys, cat_ts, cat_vals, offsets = flat(sets[0], mint, maxt)
            self.stats.queryable_samples += len(cat_vals)
            return keys, cat_ts, cat_vals, offsets
        found: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        for matchers in sets:
            for s in self.querier.select(matchers, mint, maxt):
                found.setdefault(s.labels, (s.timestamps, s.values))
        keys = sorted(found)
        ts = [np.asarray(found[k][0], np.int64) for k in keys]
        vals = [np.asarray(found[k][1], np.float64) for k in keys]
        offsets = np.zeros(len(keys) + 1, np.int64)
        offsets[1:] = np.cumsum([len(t) for t in ts])
        cat_ts = np.concatenate(ts) if ts else np.zeros(0, np.int64)
        cat_vals = np.concatenate(vals) if vals else np.zeros(0)
        self.stats.queryable_samples += len(cat_vals)
        return keys, cat_ts, cat_vals, offsets

    def vector_selector(self, vs: Any) -> Vector:
        """An instant vector: the latest sample within the lookback window, unless stale."""
        if self.steps == 0:
            return Vector.empty(0)
        ends = self.window_ends(vs)
        lookback = self.limits.lookback_ms
        keys, ts, vals, offsets = self.fetch(vs, int(ends.min()) - lookback + 1, int(ends.max()))
        values, sample_ts, present = self._latest_points(ts, vals, offsets, ends, lookback)
        drop = np.zeros(len(keys), bool)
        return Vector(keys, values, present, drop, sample_ts).compact()

    def _latest_points(
        self, ts: np.ndarray, vals: np.ndarray, offsets: np.ndarray, ends: np.ndarray, lookback: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values, sample timestamps, present) per series and step. When the output could pass
        the sample limit it is counted first, chunk by chunk, so an over-limit query fails
        holding one chunk rather than everything up to the limit."""
        n = len(offsets) - 1
        if n * len(ends) > self.limits.max_samples - self.samples:
            held = sum(int(chunk[2].sum()) for chunk in _selector_chunks(ts, vals, offsets, ends, lookback))
            if self.samples + held > self.limits.max_samples:
                self.add_samples(held)
        parts = list(_selector_chunks(ts, vals, offsets, ends, lookback))
        self.add_samples(sum(int(p[2].sum()) for p in parts))
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]

    def matrix_selector(self, node: Any) -> RangeData:
        """A range vector: samples in (end - range, end], stale markers removed."""
        vs = node.vector_selector
        ends = self.window_ends(vs)
        if self.steps == 0:
            z = np.zeros(0, np.int64)
            return RangeData(
                [], z, np.zeros(0), np.zeros(1, np.int64), ends, ms(node.range), np.zeros(0, bool)
            )
        rng = ms(node.range)
        keys, ts, vals, offsets = self.fetch(vs, int(ends.min()) - rng + 1, int(ends.max()))
        keep = ~stale_mask(vals)
        if not keep.all():
            counts: Any = np.add.reduceat(keep.astype(np.int64), offsets[:-1]) if len(vals) else []
            counts = np.where(np.diff(offsets) > 0, counts, 0)
            ts, vals = ts[keep], vals[keep]
            offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        rd = RangeData(keys, ts, vals, offsets, ends, rng, np.zeros(len(keys), bool))
        rd.step_ts = self.grid  # type: ignore[attr-defined]
        return rd

    def subquery(self, node: Any) -> RangeData:
        """Evaluate the inner expression on its own aligned grid and expose it as a range."""
        ends = self.window_ends(node)
        rng = ms(node.range)
        step = ms(node.step) or self.limits.default_subquery_step_ms
        if self.steps == 0:
            z = np.zeros(0, np.int64)
            return RangeData([], z, np.zeros(0), np.zeros(1, np.int64), ends, rng, np.zeros(0, bool))
        lo_time = int(ends.min()) - rng
        first = (lo_time // step) * step
        if first <= lo_time:
            first += step
        grid = np.arange(first, int(ends.max()) + 1, step, dtype=np.int64)
        inner = self.child(grid)
        value = inner.eval(node.expr)
        self.samples = inner.samples
        if isinstance(value, Scalar):
            value = Vector([()], value.values[None, :], np.ones((1, len(grid)), bool), np.zeros(1, bool))
        if not isinstance(value, Vector):
            raise PromQLError(f"subquery is only allowed on instant vector, got {type_name(value)}")
        rd = vector_to_range(value, grid, ends, rng)
        rd.step_ts = self.grid  # type: ignore[attr-defined]
        return rd

    def unary(self, node: Any) -> Value:
        v = self.eval(node.expr)
        if isinstance(v, Scalar):
            return Scalar(-v.values)
        if isinstance(v, Vector):
            return Vector(v.labels, -v.values, v.present, np.ones(v.n, bool))
        raise PromQLError(f"unary expression only allowed on scalar or vector, got {type_name(v)}")


def _selector_chunks(
    ts: np.ndarray, vals: np.ndarray, offsets: np.ndarray, ends: np.ndarray, lookback: int
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The latest sample per step for blocks of series (at most CHUNK_POINTS cells each)."""
    n = len(offsets) - 1
    rows = max(1, CHUNK_POINTS // max(1, len(ends)))
    for a in range(0, max(n, 1), rows):
        b = min(n, a + rows)
        part_ts, part_vals = ts[offsets[a] : offsets[b]], vals[offsets[a] : offsets[b]]
        lo, hi = window_bounds(part_ts, offsets[a : b + 1] - offsets[a], ends, lookback)
        if not len(part_vals):
            yield np.zeros(lo.shape), np.zeros(lo.shape, np.int64), np.zeros(lo.shape, bool)
            continue
        idx = np.maximum(hi - 1, 0)
        values = part_vals[idx]
        yield values, part_ts[idx], (hi > lo) & ~stale_mask(values)


def vector_to_range(v: Vector, grid: np.ndarray, ends: np.ndarray, rng: int) -> RangeData:
    """Flatten a vector evaluated on `grid` into a range vector with the given windows."""
    ts = np.broadcast_to(grid, v.present.shape)[v.present]
    vals = v.values[v.present]
    offsets = np.zeros(v.n + 1, np.int64)
    offsets[1:] = np.cumsum(v.present.sum(axis=1))
    return RangeData(list(v.labels), ts.astype(np.int64), vals, offsets, ends, rng, v.drop_name.copy())


_AT_RE = re.compile(r"@ (-?[0-9.]+)(?: offset [^\]]*)?$")


def _at_ms(node: Any, start_ms: int, end_ms: int) -> int | None:
    """The @ modifier of a selector or subquery in ms, or None."""
    at = node.at
    if at is None:
        return None
    if at.type == pp.AtModifierType.Start:
        return start_ms
    if at.type == pp.AtModifierType.End:
        return end_ms
    try:
        return round(at.at.timestamp() * 1000)
    except BaseException:
        m = _AT_RE.search(str(node))
        if m is None:
            raise PromQLError(f"cannot read @ modifier of {node}") from None
        return round(float(m.group(1)) * 1000)


def _regex_value(m: Any) -> str:
    op = _match_op(m.op)
    if op in (MatchOp.REGEX, MatchOp.NOT_REGEX) and "(?" in m.value:
        return scope_inline_flags(m.value)
    return m.value


def scope_inline_flags(pattern: str) -> str:
    """Rewrite RE2 mid-pattern flag groups `(?i)x` into Python's scoped `(?i:x)`."""
    out: list[str] = []
    closers: list[int] = [0]  # per open group: scoped flag groups to close at its end
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
        elif c == "(":
            m = re.match(r"\(\?([a-zA-Z]+)\)", pattern[i:])
            if m and (i > 0 or len(closers) > 1):
                out.append(f"(?{m.group(1)}:")
                closers[-1] += 1
                i += m.end()
                continue
            closers.append(0)
        elif c == ")" and len(closers) > 1:
            out.append(")" * closers.pop())
        out.append(c)
        i += 1
    out.append(")" * closers[0])
    return "".join(out)


def read_spans(node: Any, lookback_ms: int = DEFAULT_LOOKBACK_MS) -> dict[tuple[Matcher, ...], int]:
    """Per matcher set of an expression's selectors, how far back from the end of its read a
    selector reads: its range (or the lookback), plus the ranges of enclosing subqueries."""
    spans: dict[tuple[Matcher, ...], int] = {}
    _collect_spans(node, lookback_ms, 0, spans)
    return spans


def _collect_spans(node: Any, lookback_ms: int, outer: int, spans: dict[tuple[Matcher, ...], int]) -> None:
    node = unwrap(node)
    vs, span = node, lookback_ms
    if isinstance(node, pp.MatrixSelector):
        vs, span = node.vector_selector, ms(node.range)
    if isinstance(vs, pp.VectorSelector):
        for matchers in selector_matchers(vs):
            key = tuple(matchers)
            spans[key] = max(spans.get(key, 0), outer + span)
        return
    if isinstance(node, pp.SubqueryExpr):
        outer += ms(node.range)
    for child in _children(node):
        _collect_spans(child, lookback_ms, outer, spans)


def _children(node: Any) -> list[Any]:
    """The sub-expressions of a node."""
    if isinstance(node, pp.BinaryExpr):
        return [node.lhs, node.rhs]
    if isinstance(node, pp.AggregateExpr):
        return [node.expr] if node.param is None else [node.param, node.expr]
    if isinstance(node, pp.Call):
        return list(node.args)
    if isinstance(node, (pp.UnaryExpr, pp.SubqueryExpr)):
        return [node.expr]
    return []


_MATCHERS_MEMO_SIZE = 10_000
_matchers_memo: dict[int, tuple[Any, list[list[Matcher]]]] = {}  # id(selector) -> (it, sets)


def selector_matchers(vs: Any) -> list[list[Matcher]]:
    """The matcher sets of a vector selector (several when it uses `or`); remembered per AST
    node, which rules evaluate again and again (the memo holds the node, so its id stays its)."""
    hit = _matchers_memo.get(id(vs))
    if hit is not None and hit[0] is vs:
        return hit[1]
    if len(_matchers_memo) >= _MATCHERS_MEMO_SIZE:
        _matchers_memo.clear()
    out = _selector_matchers(vs)
    _matchers_memo[id(vs)] = (vs, out)
    return out


def _selector_matchers(vs: Any) -> list[list[Matcher]]:
    groups = vs.matchers.or_matchers or [vs.matchers.matchers]
    out = []
    for group in groups:
        ms_ = [Matcher(m.name, _match_op(m.op), _regex_value(m)) for m in group]
        if vs.name and not any(m.name == METRIC_NAME for m in ms_):
            ms_.append(Matcher(METRIC_NAME, MatchOp.EQUAL, vs.name))
        out.append(ms_)
    return out


# --------------------------------------------------------------------------------------------
# Queries


class Engine:
    """Runs PromQL queries against a Querier."""

    def __init__(self, querier: Querier, limits: Limits | None = None) -> None:
        self.querier = querier
        self.limits = limits or Limits()

    def instant(self, expr: str | Any, t_ms: int, at_override: int | None = None) -> QueryResult:
        """Evaluate at one time."""
        node = parse(expr) if isinstance(expr, str) else expr
        grid = np.array([t_ms], np.int64)
        ev = Evaluator(self.querier, grid, t_ms, t_ms, self.limits, at_override)
        ev.expr = expr
        value = ev.eval(node)
        return _finish(ev, value, grid, instant=True)

    def range(self, expr: str | Any, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        """Evaluate at start, start+step, ... <= end."""
        if step_ms <= 0:
            raise BadDataError(
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
            )
        if end_ms < start_ms:
            raise BadDataError("end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms + 1 > self.limits.max_points:
            raise BadDataError(
                "exceeded maximum resolution of 11,000 points per timeseries. "
                "Try decreasing the query resolution (?step=XX)"
            )
        node = parse(expr) if isinstance(expr, str) else expr
        grid = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        ev = Evaluator(self.querier, grid, start_ms, end_ms, self.limits)
        ev.step_ms = step_ms
        ev.range_query = True
        ev.expr = expr
        value = ev.eval(node)
        if isinstance(value, (RangeData, String)):
            raise BadDataError(
                f'invalid expression type "{"range vector" if isinstance(value, RangeData) else "string"}"'
                " for range query, must be Scalar or instant Vector"
            )
        return _finish(ev, value, grid, instant=False)


def finalize_names(v: Vector) -> Vector:
    """Apply delayed __name__ removal and merge series whose label sets became equal."""
    labels = [lb.drop_name(ls) if d else ls for ls, d in zip(v.labels, v.drop_name, strict=True)]
    out = Vector(labels, v.values, v.present, np.zeros(v.n, bool), v.sample_ts)
    return merge_duplicates(out)


def merge_duplicates(v: Vector) -> Vector:
    """Merge rows with equal labels that never overlap; raise if they do."""
    if len(set(v.labels)) == v.n:
        return v
    rows: dict[Labels, list[int]] = {}
    for i, ls in enumerate(v.labels):
        rows.setdefault(ls, []).append(i)
    keep: list[int] = []
    values, present = v.values.copy(), v.present.copy()
    for idx in rows.values():
        if len(idx) > 1:
            if (present[idx].sum(axis=0) > 1).any():
                raise PromQLError("vector cannot contain metrics with the same labelset")
            first = idx[0]
            for j in idx[1:]:
                values[first] = np.where(present[j], values[j], values[first])
                present[first] |= present[j]
        keep.append(idx[0])
    return Vector([v.labels[i] for i in keep], values[keep], present[keep], v.drop_name[keep], None)


def _finish(ev: Evaluator, value: Value, grid: np.ndarray, instant: bool) -> QueryResult:
    res = _build(ev, value, grid, instant)
    ev.stats.eval_seconds = time.perf_counter() - ev.started
    res.stats = ev.stats
    return res


def _build(ev: Evaluator, value: Value, grid: np.ndarray, instant: bool) -> QueryResult:
    if isinstance(value, Vector):
        value = finalize_names(value)
        if instant:
            return QueryResult(value, "vector", grid, ev.warnings, ev.infos)
        series = []
        for i in np.argsort([lb.render(ls) for ls in value.labels], kind="stable") if value.n else []:
            mask = value.present[i]
            if mask.any():
                series.append((value.labels[i], grid[mask], value.values[i][mask]))
        series.sort(key=lambda s: s[0])
        return QueryResult(series, "matrix", grid, ev.warnings, ev.infos)
    if isinstance(value, Scalar):
        if instant:
            return QueryResult(value, "scalar", grid, ev.warnings, ev.infos)
        return QueryResult([((), grid, value.values)], "matrix", grid, ev.warnings, ev.infos)
    if isinstance(value, String):
        return QueryResult(value, "string", grid, ev.warnings, ev.infos)
    return QueryResult(range_result(value), "matrix", grid, ev.warnings, ev.infos)


def range_result(rd: RangeData) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    """An instant query's range-vector result: each series' samples in its window."""
    lo, hi = window_bounds(rd.ts, rd.offsets, rd.ends[:1], rd.range_ms)
    out = []
    for i, ls in enumerate(rd.labels):
        a, b = int(lo[i, 0]), int(hi[i, 0])
        if b > a:
            name_dropped = lb.drop_name(ls) if rd.drop_name[i] else ls
            out.append((name_dropped, rd.ts[a:b], rd.vals[a:b]))
    return out
