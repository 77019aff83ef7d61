"""LogQL evaluation over the log store: log queries (streams) and metric queries evaluated
over the whole step grid at once (searchsorted windows, cumulative sums)."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pharos.logs import fastjson
from pharos.logs.logql import ast as A
from pharos.logs.logql.pipeline import ERROR, Plan, convert_unwrap, label_predicate, matcher_test, plan
from pharos.logs.logql.regex import compile_go
from pharos.storage.logs import LogStore, ScanSpec

Labels = dict[str, str]
MAX_POINTS = 11000
MAX_PIPELINE_LINES = 2_000_000  # lines one query runs through the per-line pipeline (memory bound)


class QueryError(ValueError):
    """A query that cannot be answered (Loki answers 400 with the message)."""


@dataclass
class Streams:
    """Log query result: (labels, ts ns array, lines) per output stream."""

    streams: list[tuple[Labels, np.ndarray, list[str]]]
    lines_scanned: int = 0
    bytes_scanned: int = 0


@dataclass
class Matrix:
    """Metric result over `steps` (ns): labels and values (NaN = no point) per series."""

    steps: np.ndarray
    series: list[tuple[Labels, np.ndarray]]


@dataclass
class Scalar:
    """A scalar value per step."""

    steps: np.ndarray
    values: np.ndarray


Value = Matrix | Scalar


def _key(lb: Labels) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(lb.items()))


class Engine:
    """Evaluates parsed LogQL for one tenant at a time."""

    def __init__(self, store: LogStore, max_series: int = 500) -> None:
        self.store = store
        self.max_series = max_series

    # -- selection -----------------------------------------------------------------------------
    def select(self, tenant: str, matchers: Iterable[A.Matcher]) -> dict[int, Labels]:
        """Stream ids of `tenant` matching all matchers, with their labels."""
        tests = [matcher_test(m) for m in matchers]
        return {sid: lb for sid, lb in enumerate(self.store.streams(tenant)) if lb and all(t(lb) for t in tests)}

    def _rows(self, tenant: str, expr: A.LogExpr, start: int, end: int, pl: Plan,
              limit: int | None = None, direction: str = "forward",
              columns: str = "stream, ts, line, meta") -> tuple[pa.Table, dict[int, Labels]]:
        streams = self.select(tenant, expr.matchers)
        spec = ScanSpec(list(streams), start, end, pl.pushed, direction, limit, columns)
        return self.store.scan(tenant, spec), streams

    def _apply(self, table: pa.Table, streams: dict[int, Labels], pl: Plan,
               force_labels: bool = False) -> tuple[np.ndarray, list[str] | None, list[Labels] | None]:
        """Run per-line stages; returns kept row indices, rewritten lines (None = unchanged; the
        table needs a `line` column only when there are stages) and per-row labels (None =
        stream labels, no metadata)."""
        n = table.num_rows
        meta = table.column("meta")
        has_meta = meta.null_count != n
        if not pl.stages and not has_meta and not force_labels:
            return np.arange(n), None, None
        if n > MAX_PIPELINE_LINES:
            raise QueryError(f"the query's pipeline would run over {n:,} lines (limit {MAX_PIPELINE_LINES:,}); "
                             "narrow the time range or the stream selector, or add line filters")
        if not pl.stages:
            return np.arange(n), None, self._row_labels(table, streams)
        sids = table.column("stream").to_numpy()
        ts = table.column("ts").to_numpy()
        lines = table.column("line").to_pylist()
        metas = meta.to_pylist() if has_meta else None
        keep, out_lines, out_labels = [], [], []
        stages = pl.stages
        for i in range(n):
            lb = dict(streams[int(sids[i])])
            if metas is not None and metas[i]:
                lb.update(orjson.loads(metas[i]))
            line, ok = lines[i], True
            for st in stages:
                line, ok = st(lb, line, int(ts[i]))
                if not ok:
                    break
            if ok:
                keep.append(i)
                out_lines.append(line)
                out_labels.append(lb)
        return np.asarray(keep, dtype=np.int64), out_lines, out_labels

    @staticmethod
    def _row_labels(table: pa.Table, streams: dict[int, Labels]) -> list[Labels]:
        """Per row: stream labels plus structured metadata."""
        sids = table.column("stream").to_numpy()
        metas = table.column("meta").to_pylist()
        out = []
        for sid, m in zip(sids.tolist(), metas, strict=True):
            lb = dict(streams[sid])
            if m:
                lb.update(orjson.loads(m))
            out.append(lb)
        return out

    # -- log queries ---------------------------------------------------------------------------
    def logs(self, tenant: str, expr: A.LogExpr, start: int, end: int, limit: int,
             direction: str = "backward") -> Streams:
        """Up to `limit` lines in [start, end) in `direction`, grouped by label set."""
        pl = plan(expr.stages)
        if not pl.stages:
            table, streams = self._rows(tenant, expr, start, end, pl, limit, direction)
            return self._group_lines(table, streams, pl, limit, direction)
        return self._logs_chunked(tenant, expr, start, end, limit, direction, pl)

    def _logs_chunked(self, tenant: str, expr: A.LogExpr, start: int, end: int, limit: int,
                      direction: str, pl: Plan) -> Streams:
        """Scan in growing time chunks from the `direction` end until `limit` lines pass."""
        collected: list[Streams] = []
        found, chunk = 0, max((end - start) // 64, 60 * 10**9)
        lo, hi = start, end
        while lo < hi and found < limit:
            if direction == "backward":
                a, b = max(lo, hi - chunk), hi
                hi = a
            else:
                a, b = lo, min(hi, lo + chunk)
                lo = b
            table, streams = self._rows(tenant, expr, a, b, pl)
            part = self._group_lines(table, streams, pl, limit - found, direction)
            found += sum(len(t) for _, t, _ in part.streams)
            collected.append(part)
            chunk *= 2
        return _merge_streams(collected)

    def _group_lines(self, table: pa.Table, streams: dict[int, Labels], pl: Plan, limit: int,
                     direction: str) -> Streams:
        keep, lines, labels = self._apply(table, streams, pl)
        ts = table.column("ts").to_numpy()[keep]
        order = np.argsort(-ts if direction == "backward" else ts, kind="stable")[:limit]
        if labels is None:
            sids = table.column("stream").to_numpy()[keep]
            all_lines = table.column("line").take(pa.array(keep[order])).to_pylist()
            groups: dict[object, list[int]] = defaultdict(list)
            for j, sid in enumerate(sids[order].tolist()):
                groups[sid].append(j)
            out = [(dict(streams[int(s)]), ts[order][idx], [all_lines[i] for i in idx]) for s, idx in groups.items()]
        else:
            if lines is None:
                lines = table.column("line").take(pa.array(keep)).to_pylist()
            g2: dict[tuple[tuple[str, str], ...], list[int]] = defaultdict(list)
            for j in order.tolist():
                g2[_key(labels[j])].append(j)
            out = [(dict(k), ts[idx], [lines[i] for i in idx]) for k, idx in g2.items()]
        nbytes = int(pc.sum(pc.binary_length(table.column("line").cast(pa.binary()))).as_py() or 0)
        return Streams(out, table.num_rows, nbytes)

    # -- metric queries ------------------------------------------------------------------------
    def metric(self, tenant: str, expr: A.Expr, start: int, end: int, step: int) -> Value:
        """Evaluate a metric expression at start, start+step, ... <= end (ns)."""
        if step <= 0:
            raise QueryError("zero or negative query resolution step widths are not accepted. "
                             "Try a positive integer")
        if (end - start) // step + 1 > MAX_POINTS:
            raise QueryError("exceeded maximum resolution of 11,000 points per timeseries. "
                             "Try decreasing the query resolution (?step=XX)")
        steps = np.arange(start, end + 1, step, dtype=np.int64)
        return self._eval(tenant, expr, steps)

    def _eval(self, tenant: str, expr: A.Expr, steps: np.ndarray) -> Value:
        if isinstance(expr, A.Number):
            return Scalar(steps, np.full(len(steps), expr.value))
        if isinstance(expr, A.VectorLit):
            return Matrix(steps, [({}, np.full(len(steps), expr.value))])
        if isinstance(expr, A.RangeAgg):
            return self._range_agg(tenant, expr, steps)
        if isinstance(expr, A.VectorAgg):
            fast = fastjson.sum_by_json(self, tenant, expr, steps) if fastjson.applies(expr) else None
            if fast is not None:
                return fast
            inner = self._eval(tenant, expr.expr, steps)
            if not isinstance(inner, Matrix):
                raise QueryError("vector aggregation needs a vector argument")
            return vector_agg(expr, inner)
        if isinstance(expr, A.BinOp):
            from pharos.logs.binops import binop

            return binop(expr, self._eval(tenant, expr.lhs, steps), self._eval(tenant, expr.rhs, steps))
        if isinstance(expr, A.LabelReplace):
            inner = self._eval(tenant, expr.expr, steps)
            if not isinstance(inner, Matrix):
                raise QueryError("label_replace needs a vector argument")
            return label_replace(expr, inner)
        raise QueryError("log queries are not supported as an instant query type, please change your "
                         "query to a range query type")

    def _range_agg(self, tenant: str, expr: A.RangeAgg, steps: np.ndarray) -> Matrix:
        rng = expr.range
        lo = int(steps[0]) - rng.range_ns - rng.offset_ns + 1
        hi = int(steps[-1]) - rng.offset_ns + 1
        pl = plan(rng.log.stages)
        post = [label_predicate(s.expr) for s in rng.post if isinstance(s, A.LabelFilter)]
        columns = "stream, ts, line, meta, nbytes" if pl.stages else "stream, ts, meta, nbytes"
        table, streams = self._rows(tenant, rng.log, lo, hi, pl, columns=columns)
        if expr.op == "absent_over_time":
            return _absent(rng, table, steps)
        series = self._series(table, streams, pl, rng, post, expr.grouping)
        if len(series) > self.max_series * 100:
            raise QueryError(f"maximum number of series ({self.max_series}) reached for a single query")
        out = []
        for lb, ts, vals in series:
            values = range_values(expr.op, ts, vals, steps - rng.offset_ns, rng.range_ns, expr.param,
                                  rng.unwrap is not None)
            if not np.all(np.isnan(values)):
                out.append((lb, values))
        _check_errors(out)
        return Matrix(steps, out)

    def _series(self, table: pa.Table, streams: dict[int, Labels], pl: Plan, rng: A.LogRange,
                post: list[Callable[[Labels], bool]], grouping: A.Grouping | None
                ) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
        """Rows grouped into series: (labels, ts ascending, per-row value or bytes)."""
        need = rng.unwrap is not None or bool(post) or grouping is not None
        keep, lines, labels = self._apply(table, streams, pl, force_labels=need)
        ts_all = table.column("ts").to_numpy()[keep]
        if lines is not None:
            sizes = np.fromiter((len(x.encode()) for x in lines), np.float64, len(lines))
        else:
            sizes = table.column("nbytes").to_numpy().astype(np.float64)
        if labels is None:
            sids = table.column("stream").to_numpy()
            return _split_by(sids, ts_all, sizes, lambda s: dict(streams[int(s)]))
        vals = sizes
        if rng.unwrap is not None:
            vals = np.empty(len(labels))
            for j, lb in enumerate(labels):
                try:
                    vals[j] = convert_unwrap(lb.pop(rng.unwrap.label, None), rng.unwrap.conv)
                except ValueError as exc:
                    vals[j] = np.nan
                    lb[ERROR], lb["__error_details__"] = "SampleExtractionErr", str(exc)
        mask = np.ones(len(labels), dtype=bool)
        for j, lb in enumerate(labels):
            if post and not all(p(lb) for p in post):
                mask[j] = False
            if grouping is not None:
                labels[j] = _group_labels(lb, grouping)
        keys = [_key(lb) for lb in labels]
        ids: dict[tuple[tuple[str, str], ...], int] = {}
        codes = np.fromiter((ids.setdefault(k, len(ids)) for k in keys), np.int64, len(keys))
        inv = {v: dict(k) for k, v in ids.items()}
        return _split_by(codes[mask], ts_all[mask], vals[mask], lambda c: dict(inv[int(c)]))


def _split_by(codes: np.ndarray, ts: np.ndarray, vals: np.ndarray, labels_of: Callable[[object], Labels]
              ) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    if not len(codes):
        return []
    order = np.lexsort((ts, codes))
    codes, ts, vals = codes[order], ts[order], vals[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    out = []
    for c, t, v in zip(np.split(codes, bounds), np.split(ts, bounds), np.split(vals, bounds), strict=True):
        out.append((labels_of(c[0]), t, v))
    return out


def _check_errors(series: list[tuple[Labels, np.ndarray]]) -> None:
    for lb, _ in series:
        if ERROR in lb:
            err = lb[ERROR]
            shown = "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(lb.items())) + "}"
            raise QueryError(
                f"pipeline error: '{err}' for series: '{shown}'.\nUse a label filter to intentionally skip "
                f"this error. (e.g | __error__!=\"{err}\").\nTo skip all potential errors you can match empty "
                "errors.(e.g __error__=\"\")\nThe label filter can also be specified after unwrap. "
                "(e.g | unwrap latency | __error__=\"\" )\n")


def _group_labels(lb: Labels, g: A.Grouping) -> Labels:
    if g.without:
        return {k: v for k, v in lb.items() if k not in g.labels}
    return {k: lb[k] for k in g.labels if k in lb}


def _absent(rng: A.LogRange, table: pa.Table, steps: np.ndarray) -> Matrix:
    ts = np.sort(table.column("ts").to_numpy())
    ends = steps - rng.offset_ns
    counts = np.searchsorted(ts, ends, "right") - np.searchsorted(ts, ends - rng.range_ns, "right")
    values = np.where(counts == 0, 1.0, np.nan)
    labels = {m.name: m.value for m in rng.log.matchers if m.op == "="}
    return Matrix(steps, [(labels, values)] if not np.all(np.isnan(values)) else [])


def range_values(op: str, ts: np.ndarray, vals: np.ndarray, ends: np.ndarray, rng: int,
                 param: float | None, unwrapped: bool = False) -> np.ndarray:
    """Per-step values of a range aggregation over windows (end - rng, end]."""
    hi = np.searchsorted(ts, ends, "right")
    lo = np.searchsorted(ts, ends - rng, "right")
    cnt = (hi - lo).astype(np.float64)
    empty = cnt == 0
    secs = rng / 1e9
    csum = np.concatenate([[0.0], np.cumsum(np.nan_to_num(vals))])
    total = csum[hi] - csum[lo]
    if op in ("count_over_time",):
        res = cnt
    elif op == "rate":
        res = total / secs if unwrapped else cnt / secs
    elif op in ("bytes_over_time", "sum_over_time"):
        res = total
    elif op == "bytes_rate":
        res = total / secs
    elif op == "avg_over_time":
        res = total / np.where(empty, 1, cnt)
    elif op == "first_over_time":
        res = vals[np.minimum(lo, len(vals) - 1)]
    elif op == "last_over_time":
        res = vals[np.maximum(hi - 1, 0)]
    else:
        res = _windowed(op, vals, lo, hi, param, secs)
    return np.where(empty, np.nan, res.astype(np.float64))


def _windowed(op: str, vals: np.ndarray, lo: np.ndarray, hi: np.ndarray, param: float | None,
              secs: float) -> np.ndarray:
    out = np.full(len(lo), np.nan)
    for i, (a, b) in enumerate(zip(lo.tolist(), hi.tolist(), strict=True)):
        if b <= a:
            continue
        w = vals[a:b]
        if op == "min_over_time":
            out[i] = w.min()
        elif op == "max_over_time":
            out[i] = w.max()
        elif op == "stddev_over_time":
            out[i] = w.std()
        elif op == "stdvar_over_time":
            out[i] = w.var()
        elif op == "quantile_over_time":
            out[i] = quantile(float(param or 0), w)
        elif op == "rate_counter":
            out[i] = _counter_increase(w) / secs
    return out


def quantile(q: float, values: np.ndarray) -> float:
    """Prometheus' quantile: linear interpolation between closest ranks; ±Inf outside [0, 1]."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    v = np.sort(values)
    rank = q * (len(v) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(v) - 1)
    w = rank - lo
    return float(v[lo] * (1 - w) + v[hi] * w)


def _counter_increase(w: np.ndarray) -> float:
    diffs = np.diff(w)
    resets = w[:-1][diffs < 0]
    return float(w[-1] - w[0] + resets.sum())


# -- vector aggregation -------------------------------------------------------------------------
def vector_agg(expr: A.VectorAgg, m: Matrix) -> Matrix:
    """sum/avg/min/max/count/stddev/stdvar/topk/bottomk/sort/sort_desc over a matrix."""
    if expr.op in ("sort", "sort_desc"):
        return m
    groups: dict[tuple[tuple[str, str], ...], list[int]] = defaultdict(list)
    g = expr.grouping or A.Grouping(())
    for i, (lb, _) in enumerate(m.series):
        groups[_key(_group_labels(lb, g))].append(i)
    if expr.op in ("topk", "bottomk"):
        return _topk(expr, m, groups)
    out = []
    for key, idx in groups.items():
        stack = np.vstack([m.series[i][1] for i in idx])
        present = ~np.isnan(stack)
        n = present.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            vals = _reduce(expr.op, stack, n)
        out.append((dict(key), np.where(n == 0, np.nan, vals)))
    return Matrix(m.steps, out)


def _reduce(op: str, stack: np.ndarray, n: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if op == "sum":
            return np.nansum(stack, axis=0)
        if op == "avg":
            return np.nanmean(stack, axis=0)
        if op == "min":
            return np.nanmin(stack, axis=0)
        if op == "max":
            return np.nanmax(stack, axis=0)
        if op == "count":
            return n.astype(np.float64)
        if op == "stddev":
            return np.nanstd(stack, axis=0)
        return np.nanvar(stack, axis=0)


def _topk(expr: A.VectorAgg, m: Matrix, groups: dict[tuple[tuple[str, str], ...], list[int]]) -> Matrix:
    k = int(expr.param or 0)
    result = [np.full(len(m.steps), np.nan) for _ in m.series]
    for idx in groups.values():
        stack = np.vstack([m.series[i][1] for i in idx])
        fill = -np.inf if expr.op == "topk" else np.inf
        ranked = np.where(np.isnan(stack), fill, stack)
        order = np.argsort(-ranked if expr.op == "topk" else ranked, axis=0, kind="stable")[:k]
        for col in range(stack.shape[1]):
            for r in order[:, col]:
                if not np.isnan(stack[r, col]):
                    result[idx[r]][col] = stack[r, col]
    out = [(dict(lb), v) for (lb, _), v in zip(m.series, result, strict=True) if not np.all(np.isnan(v))]
    return Matrix(m.steps, out)


def label_replace(expr: A.LabelReplace, m: Matrix) -> Matrix:
    """Prometheus' label_replace over every series."""
    rx = compile_go(expr.regex, anchored=True)
    repl = expr.replacement
    out = []
    for lb, vals in m.series:
        match = rx.match(lb.get(expr.src, ""))
        new = dict(lb)
        if match:
            value = _expand(repl, match)
            if value:
                new[expr.dst] = value
            else:
                new.pop(expr.dst, None)
        out.append((new, vals))
    return Matrix(m.steps, out)


def _expand(template: str, match: re.Match[str]) -> str:
    def sub(mm: re.Match[str]) -> str:
        name = mm.group(1) or mm.group(2)
        try:
            return match.group(int(name) if name.isdigit() else name) or ""
        except (IndexError, re.error):
            return ""

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", sub, template)


def _merge_streams(parts: list[Streams]) -> Streams:
    merged: dict[tuple[tuple[str, str], ...], tuple[list[np.ndarray], list[str]]] = {}
    scanned = nbytes = 0
    for part in parts:
        scanned += part.lines_scanned
        nbytes += part.bytes_scanned
        for lb, ts, lines in part.streams:
            entry = merged.setdefault(_key(lb), ([], []))
            entry[0].append(ts)
            entry[1].extend(lines)
    out = [(dict(k), np.concatenate(t) if t else np.empty(0, np.int64), ls) for k, (t, ls) in merged.items()]
    return Streams(out, scanned, nbytes)
