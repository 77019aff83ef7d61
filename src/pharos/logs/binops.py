"""LogQL binary operators over matrices and scalars (Prometheus matching semantics)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from pharos.logs.logql import ast as A

ARITH = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "%": np.fmod, "^": np.power,
}
CMP = {"==": np.equal, "!=": np.not_equal, ">": np.greater, ">=": np.greater_equal, "<": np.less,
       "<=": np.less_equal}


def _apply(op: str, a: np.ndarray, b: np.ndarray, bool_mod: bool, keep: np.ndarray) -> np.ndarray:
    """Elementwise op; comparisons give 0/1 with bool or filter to `keep` values otherwise."""
    with np.errstate(all="ignore"):
        if op in ARITH:
            return ARITH[op](a, b)
        hit = CMP[op](a, b)
    if bool_mod:
        return np.where(np.isnan(a) | np.isnan(b), np.nan, hit.astype(np.float64))
    return np.where(hit, keep, np.nan)


def binop(expr: A.BinOp, lhs: object, rhs: object) -> object:
    """Evaluate `lhs op rhs` where each side is a Matrix or a Scalar."""
    from pharos.logs.engine import Matrix, QueryError, Scalar

    op = expr.op
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        if op in CMP and not expr.bool_mod:
            raise QueryError("comparisons between scalars must use BOOL modifier")
        return Scalar(lhs.steps, _apply(op, lhs.values, rhs.values, True, lhs.values))
    if op in ("and", "or", "unless"):
        if not (isinstance(lhs, Matrix) and isinstance(rhs, Matrix)):
            raise QueryError(f"set operator {op} not allowed in binary scalar expression")
        return _set_op(op, lhs, rhs, expr.matching)
    if isinstance(lhs, Matrix) and isinstance(rhs, Scalar):
        out = [(_drop(lb, op, expr.bool_mod), _apply(op, v, rhs.values, expr.bool_mod, v)) for lb, v in lhs.series]
        return Matrix(lhs.steps, _nonempty(out))
    if isinstance(lhs, Scalar) and isinstance(rhs, Matrix):
        out = [(_drop(lb, op, expr.bool_mod), _apply(op, lhs.values, v, expr.bool_mod, v)) for lb, v in rhs.series]
        return Matrix(rhs.steps, _nonempty(out))
    assert isinstance(lhs, Matrix) and isinstance(rhs, Matrix)
    return _vector_vector(expr, lhs, rhs)


def _drop(lb: dict[str, str], op: str, bool_mod: bool) -> dict[str, str]:
    return dict(lb)


def _nonempty(series: list[tuple[dict[str, str], np.ndarray]]) -> list[tuple[dict[str, str], np.ndarray]]:
    return [(lb, v) for lb, v in series if not np.all(np.isnan(v))]


def _sig(lb: dict[str, str], m: A.VectorMatching) -> tuple[tuple[str, str], ...]:
    if m.on:
        return tuple(sorted((k, v) for k, v in lb.items() if k in m.labels))
    return tuple(sorted((k, v) for k, v in lb.items() if k not in m.labels))


def _vector_vector(expr: A.BinOp, lhs: object, rhs: object) -> object:
    from pharos.logs.engine import Matrix, QueryError

    assert isinstance(lhs, Matrix) and isinstance(rhs, Matrix)
    m = expr.matching
    many, one = (lhs, rhs) if m.card != "one-to-many" else (rhs, lhs)
    index: dict[tuple[tuple[str, str], ...], list[tuple[dict[str, str], np.ndarray]]] = defaultdict(list)
    for lb, v in one.series:
        index[_sig(lb, m)].append((lb, v))
    out = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for lb, v in many.series:
        sig = _sig(lb, m)
        partners = index.get(sig, [])
        if len(partners) > 1:
            raise QueryError("found duplicate series for the match group on the right hand-side of the operation")
        if not partners:
            continue
        if m.card == "one-to-one":
            if sig in seen:
                raise QueryError("multiple matches for labels: many-to-one matching must be explicit "
                                 "(group_left/group_right)")
            seen.add(sig)
        plb, pv = partners[0]
        a, b = (v, pv) if many is lhs else (pv, v)
        vals = _apply(expr.op, a, b, expr.bool_mod, a)
        out.append((_result_labels(lb, plb, m), vals))
    return Matrix(lhs.steps, _nonempty(out))


def _result_labels(lb: dict[str, str], other: dict[str, str], m: A.VectorMatching) -> dict[str, str]:
    if m.card == "one-to-one":
        if m.on:
            return {k: v for k, v in lb.items() if k in m.labels}
        return {k: v for k, v in lb.items() if k not in m.labels}
    out = dict(lb)
    for name in m.include:
        if name in other:
            out[name] = other[name]
    return out


def _set_op(op: str, lhs: object, rhs: object, m: A.VectorMatching) -> object:
    from pharos.logs.engine import Matrix

    assert isinstance(lhs, Matrix) and isinstance(rhs, Matrix)
    present: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
    for lb, v in rhs.series:
        sig = _sig(lb, m)
        cur = present.get(sig)
        present[sig] = ~np.isnan(v) if cur is None else cur | ~np.isnan(v)
    none = np.zeros(len(lhs.steps), dtype=bool)
    if op == "and":
        out = [(lb, np.where(present.get(_sig(lb, m), none), v, np.nan)) for lb, v in lhs.series]
        return Matrix(lhs.steps, _nonempty(out))
    if op == "unless":
        out = [(lb, np.where(present.get(_sig(lb, m), none), np.nan, v)) for lb, v in lhs.series]
        return Matrix(lhs.steps, _nonempty(out))
    left: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
    for lb, v in lhs.series:
        sig = _sig(lb, m)
        left[sig] = left.get(sig, none) | ~np.isnan(v)
    out = list(lhs.series)
    for lb, v in rhs.series:
        out.append((lb, np.where(left.get(_sig(lb, m), none), np.nan, v)))
    return Matrix(lhs.steps, _nonempty(out))
