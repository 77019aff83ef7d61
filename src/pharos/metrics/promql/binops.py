"""Binary operators: arithmetic, comparison and set operators with vector matching."""

from __future__ import annotations

from typing import Any

import numpy as np
import promql_parser as pp

from pharos.metrics.model import METRIC_NAME, Labels
from pharos.metrics.promql import labels as lb
from pharos.metrics.promql.values import PromQLError, Scalar, Value, Vector, type_name

COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
SET_OPS = {"and", "or", "unless"}


def arith(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise arithmetic with Go's float semantics."""
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.true_divide(a, b)
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
    raise PromQLError(f"operator {op!r} not allowed here")


def compare(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise comparison (False where either side is NaN, except !=)."""
    with np.errstate(invalid="ignore"):
        return {
            "==": np.equal,
            "!=": np.not_equal,
            ">": np.greater,
            "<": np.less,
            ">=": np.greater_equal,
            "<=": np.less_equal,
        }[op](a, b)


def binary(ev: Any, node: Any) -> Value:
    """Evaluate a binary expression."""
    op = str(node.op).strip()
    mod = node.modifier
    return_bool = bool(mod and mod.return_bool)
    lhs, rhs = ev.eval(node.lhs), ev.eval(node.rhs)
    if isinstance(lhs, Scalar) and isinstance(rhs, Scalar):
        if op in COMPARISONS:
            return Scalar(compare(op, lhs.values, rhs.values).astype(float))
        return Scalar(arith(op, lhs.values, rhs.values))
    if isinstance(lhs, Vector) and isinstance(rhs, Scalar):
        return _vector_scalar(op, lhs, rhs.values, return_bool, swap=False)
    if isinstance(lhs, Scalar) and isinstance(rhs, Vector):
        return _vector_scalar(op, rhs, lhs.values, return_bool, swap=True)
    if isinstance(lhs, Vector) and isinstance(rhs, Vector):
        if op in SET_OPS:
            return _set_op(op, lhs, rhs, mod)
        return _vector_vector(op, lhs, rhs, mod, return_bool)
    raise PromQLError(f"binary operator {op} not defined between {type_name(lhs)} and {type_name(rhs)}")


def _vector_scalar(op: str, vec: Vector, sc: np.ndarray, return_bool: bool, swap: bool) -> Vector:
    s = np.broadcast_to(sc[None, :], vec.values.shape)
    a, b = (s, vec.values) if swap else (vec.values, s)
    if op in COMPARISONS:
        keep = compare(op, a, b)
        if return_bool:
            return Vector(vec.labels, keep.astype(float), vec.present, np.ones(vec.n, bool))
        return Vector(vec.labels, vec.values, vec.present & keep, vec.drop_name).compact()
    return Vector(vec.labels, arith(op, a, b), vec.present, np.ones(vec.n, bool))


def _signature_fn(mod: Any) -> Any:
    matching = mod.matching if mod else None
    if matching is not None and matching.type == pp.LabelModifierType.Include:
        names = frozenset(matching.labels)
        return lambda ls: lb.keep_only(ls, names)
    drop = frozenset([*(matching.labels if matching is not None else []), METRIC_NAME])
    return lambda ls: lb.without(ls, drop)


def _presence_by_sig(vec: Vector, sigs: list[Labels], index: dict[Labels, int]) -> np.ndarray:
    """(n_sigs, T) count of present series per signature."""
    out = np.zeros((len(index), vec.values.shape[1]), np.int64)
    if vec.n:
        np.add.at(out, np.array([index[s] for s in sigs]), vec.present.astype(np.int64))
    return out


def _set_op(op: str, lhs: Vector, rhs: Vector, mod: Any) -> Vector:
    sigf = _signature_fn(mod)
    lsig = [sigf(ls) for ls in lhs.labels]
    rsig = [sigf(ls) for ls in rhs.labels]
    index = {s: i for i, s in enumerate(dict.fromkeys(lsig + rsig))}
    lidx = np.array([index[s] for s in lsig], np.int64)
    ridx = np.array([index[s] for s in rsig], np.int64)
    if op == "or":
        lpres = _presence_by_sig(lhs, lsig, index) > 0
        rpresent = rhs.present & ~lpres[ridx] if rhs.n else rhs.present
        return Vector(
            lhs.labels + rhs.labels,
            np.concatenate([lhs.values, rhs.values]),
            np.concatenate([lhs.present, rpresent]),
            np.concatenate([lhs.drop_name, rhs.drop_name]),
        ).compact()
    rpres = _presence_by_sig(rhs, rsig, index) > 0
    hit = rpres[lidx] if lhs.n else lhs.present
    present = lhs.present & (hit if op == "and" else ~hit)
    return Vector(lhs.labels, lhs.values, present, lhs.drop_name).compact()


def _dup_error(group: Labels, side: str, a: Labels, b: Labels) -> PromQLError:
    return PromQLError(
        f"found duplicate series for the match group {lb.render(group)} on the {side} "
        f"hand-side of the operation: [{lb.render(a)}, {lb.render(b)}];many-to-many matching "
        "not allowed: matching labels must be unique on one side"
    )


def _one_side_index(one: Vector, sigs: list[Labels], side: str) -> dict[Labels, np.ndarray]:
    """Per signature, the (T,) row index of the present 'one'-side series (-1 when none)."""
    rows: dict[Labels, list[int]] = {}
    for i, s in enumerate(sigs):
        rows.setdefault(s, []).append(i)
    out: dict[Labels, np.ndarray] = {}
    for s, idx in rows.items():
        if len(idx) > 1:
            counts = one.present[idx].sum(axis=0)
            bad = np.flatnonzero(counts > 1)
            if len(bad):
                t = bad[0]
                pair = sorted(one.labels[i] for i in idx if one.present[i, t])[:2]
                raise _dup_error(s, side, pair[0], pair[1])
        sel = np.full(one.values.shape[1], -1, np.int64)
        for i in idx:
            sel = np.where(one.present[i], i, sel)
        out[s] = sel
    return out


def _result_labels(many: Labels, one: Labels, mod: Any, card: Any) -> Labels:
    matching = mod.matching if mod else None
    if card == pp.VectorMatchCardinality.OneToOne and matching is not None:
        if matching.type == pp.LabelModifierType.Include:
            return lb.keep_only(many, matching.labels)
        return lb.without(many, matching.labels)
    out = many
    for name in (mod.group_labels or []) if mod else []:
        out = lb.set_label(out, name, lb.get(one, name))
    return out


def _vector_vector(op: str, lhs: Vector, rhs: Vector, mod: Any, return_bool: bool) -> Vector:
    card = mod.card if mod else pp.VectorMatchCardinality.OneToOne
    swapped = card == pp.VectorMatchCardinality.OneToMany
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    sigf = _signature_fn(mod)
    one_sel = _one_side_index(one, [sigf(ls) for ls in one.labels], "left" if swapped else "right")
    msigs = [sigf(ls) for ls in many.labels]
    if card == pp.VectorMatchCardinality.OneToOne:
        _check_one_to_one(many, msigs, one_sel)
    steps = many.values.shape[1]
    rows = [i for i, sig in enumerate(msigs) if sig in one_sel]
    if not rows:
        return Vector.empty(steps)
    sel = np.array([one_sel[msigs[i]] for i in rows]).reshape(len(rows), steps)
    matched = many.present[rows] & (sel >= 0)
    ov, mv = one.values[np.maximum(sel, 0), np.arange(steps)[None, :]], many.values[rows]
    a, b = (ov, mv) if swapped else (mv, ov)
    if op in COMPARISONS:
        keep = compare(op, a, b)
        value = keep.astype(float) if return_bool else a
        present = matched if return_bool else matched & keep
        drops = return_bool | many.drop_name[rows]
    else:
        value, present, drops = arith(op, a, b), matched, np.ones(len(rows), bool)
    return _matched_rows(many, one, rows, sel, (value, present, matched, drops), mod, card)


def _matched_rows(
    many: Vector,
    one: Vector,
    rows: list[int],
    sel: np.ndarray,
    result: tuple[np.ndarray, ...],
    mod: Any,
    card: Any,
) -> Vector:
    """One output series per (many-side row, matched one-side row) with any point present, in
    row order then one-side index order."""
    value, present, matched, drops = result
    lo = np.where(matched, sel, np.iinfo(np.int64).max).min(axis=1)
    single = lo == np.where(matched, sel, -1).max(axis=1)
    labels: list[Labels] = []
    picks: list[tuple[int, np.ndarray]] = []
    for r in np.flatnonzero(matched.any(axis=1)).tolist():
        for j in [int(lo[r])] if single[r] else np.unique(sel[r][matched[r]]).tolist():
            mask = present[r] if single[r] else present[r] & (sel[r] == j)
            if mask.any():
                labels.append(_result_labels(many.labels[rows[r]], one.labels[j], mod, card))
                picks.append((r, mask))
    if not labels:
        return Vector.empty(value.shape[1])
    at = [r for r, _ in picks]
    out = Vector(labels, value[at], np.array([m for _, m in picks]), np.asarray(drops, bool)[at])
    _check_unique(out)
    return out


def _check_one_to_one(many: Vector, sigs: list[Labels], one_sel: dict[Labels, np.ndarray]) -> None:
    rows: dict[Labels, list[int]] = {}
    for i, s in enumerate(sigs):
        if s in one_sel:
            rows.setdefault(s, []).append(i)
    for s, idx in rows.items():
        if len(idx) > 1:
            counts = (many.present[idx] & (one_sel[s] >= 0)[None, :]).sum(axis=0)
            if (counts > 1).any():
                raise PromQLError(
                    "multiple matches for labels: many-to-one matching must be explicit "
                    "(group_left/group_right)"
                )


def _check_unique(v: Vector) -> None:
    if len(set(v.labels)) == v.n:
        return
    seen: dict[Labels, np.ndarray] = {}
    for i, ls in enumerate(v.labels):
        if ls in seen:
            if (seen[ls] & v.present[i]).any():
                raise PromQLError("multiple matches for labels: grouping labels must ensure unique matches")
            seen[ls] = seen[ls] | v.present[i]
        else:
            seen[ls] = v.present[i].copy()
