"""A vectorised path for the most common JSON metric query shape:

    sum by (a, b) (count_over_time|rate|bytes_over_time|bytes_rate({...} |= "x" | json [r]))

`sum` of these range aggregations equals the same aggregation over the rows grouped by the `by`
labels, so only those labels are needed. DuckDB extracts them from the JSON lines inside the scan
(no per-line Python, and only stream, ts and the extracted values leave the store). The answer is
the one the per-line pipeline gives: a label the stream has wins over the JSON field (which would
become `<name>_extracted`); a JSON string gives its text, null gives "", numbers and booleans are
formatted by the pipeline's own rule; objects and arrays give no label. When a row is not a JSON
object or carries structured metadata, or a label name could come from a flattened or sanitised
key (contains `_`), this returns None and the general evaluator runs (with its error semantics).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pharos.logs.logql import ast as A
from pharos.logs.logql.pipeline import _json_str, plan
from pharos.storage.logs import ScanSpec

if TYPE_CHECKING:
    from pharos.logs.engine import Engine, Matrix

ADDITIVE = {"count_over_time", "rate", "bytes_over_time", "bytes_rate"}
_SIMPLE = re.compile(r"[A-Za-z][A-Za-z0-9]*\Z")
_ABSENT = object()


def applies(expr: A.VectorAgg) -> bool:
    """Whether `expr` has the shape this module evaluates."""
    inner = expr.expr
    if not (expr.op == "sum" and expr.grouping is not None and not expr.grouping.without
            and isinstance(inner, A.RangeAgg) and inner.op in ADDITIVE and inner.grouping is None):
        return False
    rng = inner.range
    if rng.unwrap is not None or rng.post or not all(_SIMPLE.match(n) for n in expr.grouping.labels):
        return False
    rest = [s for s in rng.log.stages if not isinstance(s, A.LineFilter)]
    return (len(rest) == 1 and isinstance(rest[0], A.Parser) and rest[0].kind == "json" and not rest[0].params
            and len(plan(rng.log.stages).stages) == 1)


def _columns(names: tuple[str, ...], with_bytes: bool) -> str:
    cols = ["stream", "ts", "meta IS NULL AS nometa",
            "CASE WHEN json_valid(line) THEN json_type(line) = 'OBJECT' ELSE false END AS obj"]
    cols += [f"CASE WHEN json_valid(line) THEN json_extract(line, '$.\"{n}\"')::VARCHAR END AS v{j}"
             for j, n in enumerate(names)]
    if with_bytes:
        cols.append("strlen(line)::DOUBLE AS nbytes")
    return ", ".join(cols)


def _json_value(raw: str | None) -> object:
    if raw is None:
        return _ABSENT
    v = orjson.loads(raw)
    return _ABSENT if isinstance(v, dict | list) else _json_str(v)


def _codes(table: pa.Table, j: int, name: str, streams: dict[int, dict[str, str]]) -> tuple[np.ndarray, list[object]]:
    """Per-row code of label `name` and the value of each code (_ABSENT = no label)."""
    enc = pc.dictionary_encode(table.column(f"v{j}")).combine_chunks()
    values: list[object] = [_json_value(x) for x in enc.dictionary.to_pylist()] + [_ABSENT]
    codes = enc.indices.fill_null(len(values) - 1).to_numpy().astype(np.int64)
    own = np.full(max(streams, default=0) + 1, -1, dtype=np.int64)
    for sid, lb in streams.items():
        if name in lb:
            values.append(lb[name])
            own[sid] = len(values) - 1
    override = own[table.column("stream").to_numpy().astype(np.int64)]
    return np.where(override >= 0, override, codes), values


def sum_by_json(engine: Engine, tenant: str, expr: A.VectorAgg, steps: np.ndarray) -> Matrix | None:
    """The value of `expr` (see the module docstring), or None to use the general evaluator."""
    from pharos.logs.engine import Matrix, range_values

    inner = expr.expr
    assert isinstance(inner, A.RangeAgg) and expr.grouping is not None
    rng, names = inner.range, expr.grouping.labels
    lo = int(steps[0]) - rng.range_ns - rng.offset_ns + 1
    hi = int(steps[-1]) - rng.offset_ns + 1
    streams = engine.select(tenant, rng.log.matchers)
    with_bytes = inner.op.startswith("bytes")
    spec = ScanSpec(list(streams), lo, hi, plan(rng.log.stages).pushed, columns=_columns(names, with_bytes))
    table = engine.store.scan(tenant, spec)
    if not table.num_rows:
        return Matrix(steps, [])
    if not (pc.all(table.column("obj")).as_py() and pc.all(table.column("nometa")).as_py()):
        return None
    per_name = [_codes(table, j, n, streams) for j, n in enumerate(names)]
    combos, inverse = np.unique(np.stack([c for c, _ in per_name]), axis=1, return_inverse=True)
    keys: dict[tuple[tuple[str, str], ...], int] = {}
    group_of = np.empty(combos.shape[1], dtype=np.int64)
    for k in range(combos.shape[1]):
        key = tuple((n, str(vals[int(combos[j, k])])) for j, (n, (_, vals)) in enumerate(zip(names, per_name, strict=True))
                    if vals[int(combos[j, k])] is not _ABSENT)
        group_of[k] = keys.setdefault(key, len(keys))
    groups = group_of[inverse.reshape(-1)]
    ts = table.column("ts").to_numpy()
    vals = table.column("nbytes").to_numpy() if with_bytes else np.ones(len(ts))
    order = np.lexsort((ts, groups))
    groups, ts, vals = groups[order], ts[order], vals[order]
    bounds = np.flatnonzero(np.diff(groups)) + 1
    labels = {g: dict(k) for k, g in keys.items()}
    out = []
    for g, t, v in zip(np.split(groups, bounds), np.split(ts, bounds), np.split(vals, bounds), strict=True):
        values = range_values(inner.op, t, v, steps - rng.offset_ns, rng.range_ns, None)
        if not np.all(np.isnan(values)):
            out.append((labels[int(g[0])], values))
    return Matrix(steps, out)
