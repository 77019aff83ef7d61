"""Aggregation operators, vectorised over groups and steps.

Per step, the present members of a group form a "window" in a flat array ordered by
(step, group, input order); the window reducers of `windows.py` then compute every group at
every step at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import promql_parser as pp
import xxhash

from pharos.metrics.model import METRIC_NAME, Labels
from pharos.metrics.promql import labels as lb
from pharos.metrics.promql.annotations import arg_index, check_quantile
from pharos.metrics.promql.gostrings import go_quote, valid_name
from pharos.metrics.promql.values import PromQLError, String, Vector
from pharos.metrics.promql.windows import (
    avg_windows,
    compensated_sum_windows,
    quantile_sorted,
    reduce_windows,
    sorted_windows,
    variance_windows,
)

_KEY_MEMO_ENTRIES = 1_000_000  # label sets remembered over all groupings before the memos start over
_KEY_MEMOS = 1_000  # groupings remembered
_key_memos: dict[tuple[bool, frozenset[str]], dict[Labels, Labels]] = {}
KeysFn = Callable[[list[Labels]], list[Labels]]


def group_keys_fn(node: Any) -> KeysFn:
    """The function mapping series' label sets to their groups' label sets (remembered across
    queries: rules aggregate the same series by the same labels at every evaluation)."""
    mod = node.modifier
    if mod is None:
        return lambda labels: [()] * len(labels)
    by = mod.type == pp.AggModifierType.By
    names = frozenset(mod.labels) if by else frozenset(mod.labels) | {METRIC_NAME}
    if len(_key_memos) > _KEY_MEMOS or sum(map(len, _key_memos.values())) > _KEY_MEMO_ENTRIES:
        _key_memos.clear()
    memo = _key_memos.setdefault((by, names), {})
    compute = lb.keep_only if by else lb.without

    def keys(labels: list[Labels]) -> list[Labels]:
        out = list(map(memo.get, labels))
        if None in out:
            for i, k in enumerate(out):
                if k is None:
                    out[i] = memo[labels[i]] = compute(labels[i], names)
        return out  # type: ignore[return-value]

    return keys


class Groups:
    """Series grouped for aggregation, with flat per-(step, group) member windows."""

    def __init__(self, vec: Vector, keysf: KeysFn) -> None:
        keys = keysf(vec.labels)
        index: dict[Labels, int] = {}
        self.gid = np.array([index.setdefault(k, len(index)) for k in keys], np.int64)
        self.keys = list(index)
        self.vec = vec
        self.order = np.argsort(self.gid, kind="stable")
        steps = vec.values.shape[1]
        g = len(self.keys)
        pres_t = vec.present[self.order].T  # (T, n) in group order
        self.flat = vec.values[self.order].T[pres_t]
        self.flat_rows = np.broadcast_to(self.order[None, :], pres_t.shape)[pres_t]
        counts = np.zeros((steps, g), np.int64)
        if vec.n:
            np.add.at(counts.T, self.gid[self.order], pres_t.T.astype(np.int64))
        ends = np.cumsum(counts.ravel()).reshape(steps, g)
        self.hi = ends
        self.lo = ends - counts
        self.counts = counts

    def out(self, values_tg: np.ndarray, present_tg: np.ndarray | None = None) -> Vector:
        """A vector with one series per group from (T, G) results."""
        present = (self.counts > 0) if present_tg is None else present_tg
        drop = np.zeros(len(self.keys), bool)
        if METRIC_NAME in {n for k in self.keys for n, _ in k} and self.vec.n:
            np.logical_or.at(drop, self.gid, self.vec.drop_name)
        return Vector(self.keys, values_tg.T.copy(), present.T.copy(), drop).compact()


def aggregate(ev: Any, node: Any) -> Vector:
    """Evaluate an aggregation expression."""
    op = str(node.op).strip()
    param = ev.eval(node.param) if node.param is not None else None
    vec = ev.eval_vector(node.expr)
    keysf = group_keys_fn(node)
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        return _select_k(op, vec, keysf, _param_values(op, param))
    if op == "count_values":
        if not isinstance(param, String):
            raise PromQLError("expected string parameter for count_values")
        return _count_values(vec, keysf, param.value)
    grp = Groups(vec, keysf)
    flat, lo, hi = grp.flat, grp.lo, grp.hi
    with np.errstate(all="ignore"):
        if op == "sum":
            return grp.out(compensated_sum_windows(flat, lo, hi))
        if op == "avg":
            return grp.out(avg_windows(flat, lo, hi))
        if op == "count":
            return grp.out(grp.counts.astype(float))
        if op == "group":
            return grp.out(np.ones(lo.shape))
        if op == "min":
            return grp.out(reduce_windows(np.fmin, flat, lo, hi))
        if op == "max":
            return grp.out(reduce_windows(np.fmax, flat, lo, hi))
        if op == "stdvar":
            return grp.out(variance_windows(flat, lo, hi))
        if op == "stddev":
            return grp.out(np.sqrt(variance_windows(flat, lo, hi)))
        if op == "quantile":
            check_quantile(ev, _scalar(param), arg_index(ev.expr_text, "quantile", 0))
            q = np.broadcast_to(_scalar(param)[:, None], lo.shape).ravel()
            res = sorted_windows(flat, lo, hi, lambda r, c, sl: quantile_sorted(r, c, q[sl]))
            return grp.out(res)
    raise PromQLError(f"unknown aggregation {op}")


def _scalar(param: Any) -> np.ndarray:
    if param is None or not hasattr(param, "values") or isinstance(param, Vector):
        raise PromQLError("expected scalar parameter")
    return np.asarray(param.values, float)


def _param_values(op: str, param: Any) -> np.ndarray:
    k = _scalar(param)
    if np.isnan(k).any():
        raise PromQLError("Ratio value is NaN" if op == "limit_ratio" else "Parameter value is NaN")
    if op == "limit_ratio":
        return np.clip(k, -1.0, 1.0)
    if (np.abs(k) >= 2**63).any():
        raise PromQLError(f"Scalar value {k[np.abs(k) >= 2**63][0]:g} overflows int64")
    return np.trunc(k)


def _select_k(op: str, vec: Vector, keysf: KeysFn, k: np.ndarray) -> Vector:
    """topk / bottomk / limitk / limit_ratio: keep the chosen members of each group per step."""
    if op == "limit_ratio":
        return _limit_ratio(vec, k)
    grp = Groups(vec, keysf)
    steps = vec.values.shape[1]
    flat_t = np.repeat(np.arange(steps), grp.counts.sum(axis=1))
    window = np.repeat(np.arange(grp.counts.size), grp.counts.ravel())
    if op == "limitk":
        order = np.arange(len(grp.flat))
    else:
        v = grp.flat
        key = np.where(np.isnan(v), np.inf, -v if op == "topk" else v)
        order = np.lexsort((key, window))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - grp.lo.ravel()[window[order]]
    chosen = rank < k[flat_t]
    present = np.zeros_like(vec.present)
    present[grp.flat_rows[chosen], flat_t[chosen]] = True
    out = Vector(vec.labels, vec.values, present, vec.drop_name, vec.sample_ts).compact()
    if steps == 1 and op != "limitk" and out.n:
        v = out.values[:, 0]
        key = np.where(np.isnan(v), np.inf, -v if op == "topk" else v)
        out = out.take(np.lexsort((key,)))
    return out


def _limit_ratio(vec: Vector, ratio: np.ndarray) -> Vector:
    pos = np.array([_hash_ratio(ls) for ls in vec.labels], float)
    r = ratio[None, :]
    keep = np.where(r >= 0, pos[:, None] < r, pos[:, None] >= 1.0 + r)
    return Vector(vec.labels, vec.values, vec.present & keep, vec.drop_name).compact()


def _hash_ratio(labels: Labels) -> float:
    """A series' position in [0, 1): xxhash64 of its labels (Prometheus's label-set hash)."""
    data = b"".join(n.encode() + b"\xff" + v.encode() + b"\xff" for n, v in labels)
    return xxhash.xxh64_intdigest(data) / float(2**64 - 1)


def format_value(f: float) -> str:
    """Go's strconv.FormatFloat(f, 'f', -1, 64)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return np.format_float_positional(f, trim="-")


def _count_values(vec: Vector, keysf: KeysFn, label: str) -> Vector:
    if not valid_name(label):
        raise PromQLError(f"invalid label name {go_quote(label)}")
    steps = vec.values.shape[1]
    rows, cols = np.nonzero(vec.present)
    if not len(rows):
        return Vector.empty(steps)
    bases: dict[Labels, int] = {}
    base_of = np.array([bases.setdefault(k, len(bases)) for k in keysf(vec.labels)], np.int64)
    bits, value_of = np.unique(vec.values[rows, cols].view(np.int64), return_inverse=True)
    codes, first, code_of = np.unique(
        base_of[rows] * len(bits) + value_of.ravel(), return_index=True, return_inverse=True
    )
    base_list, texts = list(bases), [format_value(f) for f in bits.view(np.float64).tolist()]
    slot: dict[Labels, int] = {}
    slot_of = np.empty(len(codes), np.int64)
    for c in np.argsort(first, kind="stable").tolist():  # keys in order of first appearance
        b, u = divmod(int(codes[c]), len(bits))
        slot_of[c] = slot.setdefault(lb.set_label(base_list[b], label, texts[u]), len(slot))
    counts = np.zeros((len(slot), steps))
    np.add.at(counts, (slot_of[code_of.ravel()], cols), 1)
    return Vector(list(slot), counts, counts > 0, np.zeros(len(slot), bool))
