"""histogram_quantile over classic (le-bucketed) histograms, vectorised over steps."""

from __future__ import annotations

from typing import Any

import numpy as np

from pharos.metrics.model import Labels
from pharos.metrics.promql import labels as lb
from pharos.metrics.promql.annotations import info, warn
from pharos.metrics.promql.values import Vector

MIN_NORMAL = 2.2250738585072014e-308
SMALL_DELTA = 1e-12


def almost_equal(a: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    """Prometheus util/almost.Equal, elementwise."""
    with np.errstate(all="ignore"):
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < MIN_NORMAL)
        close = np.where(tiny, diff < eps * MIN_NORMAL, diff / np.minimum(abs_sum, np.finfo(float).max) < eps)
    return (a == b) | (np.isnan(a) & np.isnan(b)) | close


def _parse_le(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _bucket_groups(ev: Any, v: Vector, pos: int) -> dict[Labels, list[tuple[float, int]]]:
    groups: dict[Labels, list[tuple[float, int]]] = {}
    for i, ls in enumerate(v.labels):
        le = _parse_le(lb.get(ls, "le"))
        if le is None:
            msg = (
                f'bucket label "le" is missing or has a malformed value of "{lb.get(ls, "le")}" '
                f'for metric name "{lb.get(ls, "__name__")}"'
            )
            warn(ev, msg, pos)
            continue
        groups.setdefault(lb.without(ls, ["le"]), []).append((le, i))
    return groups


def _result(
    keys: list[Labels], vals: list[np.ndarray] | np.ndarray, pres: list[np.ndarray] | np.ndarray, steps: int
) -> Vector:
    if not keys:
        return Vector.empty(steps)
    from pharos.metrics.promql.engine import finalize_names

    out = Vector(keys, np.array(vals), np.array(pres), np.ones(len(keys), bool))
    return finalize_names(out)


def histogram_fraction(ev: Any, lower: np.ndarray, upper: np.ndarray, v: Vector, pos: int = 0) -> Vector:
    """histogram_fraction(lower, upper, buckets) for classic histograms."""
    steps = v.values.shape[1]
    keys, vals, pres = [], [], []
    for key, members in _bucket_groups(ev, v, pos).items():
        members.sort(key=lambda p: p[0])
        out = np.full(steps, np.nan)
        has = np.zeros(steps, bool)
        for t in range(steps):
            sel = [(le, v.values[i, t]) for le, i in members if v.present[i, t]]
            if sel:
                has[t] = True
                out[t] = _fraction(float(lower[t]), float(upper[t]), sel)
        keys.append(key)
        vals.append(out)
        pres.append(has)
    return _result(keys, vals, pres, steps)


def _fraction(lower: float, upper: float, buckets: list[tuple[float, float]]) -> float:
    les = sorted({b[0] for b in buckets})
    counts = [sum(c for le, c in buckets if le == u) for u in les]
    if not les or not np.isposinf(les[-1]):
        return float("nan")
    total = counts[-1]
    if total == 0 or np.isnan(lower) or np.isnan(upper):
        return float("nan")
    if lower >= upper:
        return 0.0
    return (_rank(upper, les, counts, False) - _rank(lower, les, counts, True)) / total


def _rank(x: float, les: list[float], counts: list[float], is_lower: bool) -> float:
    """Cumulative count at x, interpolating linearly inside finite buckets."""
    if x == float("-inf"):
        return 0.0
    prev = 0.0
    for i, ub in enumerate(les):
        lb_ = les[i - 1] if i else (0.0 if ub > 0 else float("-inf"))
        if x <= lb_:
            return prev
        if x <= ub:
            if np.isposinf(ub):
                return counts[i] if x == ub else prev
            if np.isinf(lb_):
                return counts[i] if (is_lower and x != ub) or x == ub else prev
            return prev + (counts[i] - prev) * (x - lb_) / (ub - lb_)
        prev = counts[i]
    return prev


def histogram_quantile(ev: Any, q: np.ndarray, v: Vector, pos: int = 0) -> Vector:
    """histogram_quantile(q, buckets) for classic histograms. Each (histogram, step) cell is
    evaluated over the buckets present there; cells with the same bucket bounds go together."""
    groups = list(_bucket_groups(ev, v, pos).items())
    steps = v.values.shape[1]
    out = np.full((len(groups), steps), np.nan)
    has = np.zeros((len(groups), steps), bool)
    batches: dict[tuple[float, ...], list[tuple[int, np.ndarray, np.ndarray]]] = {}
    for g, (_, members) in enumerate(groups):
        members.sort(key=lambda p: p[0])
        les = np.array([p[0] for p in members])
        rows = np.array([p[1] for p in members])
        present = v.present[rows]
        has[g] = present.any(axis=0)
        patterns, which = np.unique(present.T, axis=0, return_inverse=True)
        for p, sel in enumerate(patterns):
            if sel.any():
                cells = np.flatnonzero(which.ravel() == p)
                batches.setdefault(tuple(les[sel].tolist()), []).append((g, rows[sel], cells))
    fixed = np.zeros(len(groups), bool)
    for les_key, items in batches.items():
        counts = np.concatenate([v.values[rows][:, cells].T for _, rows, cells in items])
        at_g = np.concatenate([np.full(len(cells), g) for g, _, cells in items])
        at_t = np.concatenate([cells for _, _, cells in items])
        res, fix = _quantile(q[at_t][:, None], np.array(les_key), counts[:, :, None])
        out[at_g, at_t] = res[:, 0]
        fixed[at_g[fix]] = True
    for fixed_at in np.flatnonzero(fixed).tolist():
        _monotonic_info(ev, groups[fixed_at][0], pos)
    return _result([k for k, _ in groups], out, has, steps)


def _monotonic_info(ev: Any, key: Labels, pos: int) -> None:
    msg = (
        "input to histogram_quantile needed to be fixed for monotonicity (see "
        "https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) "
        f'for metric name "{lb.get(key, "__name__")}"'
    )
    info(ev, msg, pos)


def _quantile(q: np.ndarray, les: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prometheus's bucketQuantile for sorted upper bounds shared by G histograms: (G, B, T)
    cumulative counts and q broadcastable to (G, T) in, (G, T) quantiles and per-histogram
    "fixed for monotonicity" out."""
    groups, _, steps = counts.shape
    fixed = np.zeros(groups, bool)
    nan = np.full((groups, steps), np.nan)
    if len(les) == 0 or not np.isposinf(les[-1]):
        return _edge(q, nan), fixed
    uniq, inv = np.unique(les, return_inverse=True)
    c = np.zeros((groups, len(uniq), steps))
    np.add.at(c.transpose(1, 0, 2), inv, counts.transpose(1, 0, 2))  # buckets with equal bounds
    les = uniq
    prev = c[:, 0].copy()
    for i in range(1, len(les)):
        cur = c[:, i]
        same = cur == prev
        close = ~same & almost_equal(prev, cur, SMALL_DELTA)
        dec = ~same & ~close & (cur < prev)
        c[:, i] = np.where(close | dec, prev, cur)
        fixed |= dec.any(axis=1)
        prev = np.where(same | close | dec, prev, cur)
    if len(les) < 2:
        return _edge(q, nan), fixed
    obs = c[:, -1]
    with np.errstate(all="ignore"):
        rank = q * obs
        ge = c[:, :-1] >= rank[:, None, :]
        b = np.where(ge.any(axis=1), np.argmax(ge, axis=1), len(les) - 1)
        end = les[np.minimum(b, len(les) - 1)]
        start = np.where(b > 0, les[np.maximum(b - 1, 0)], 0.0)
        prev_count = np.where(b > 0, np.take_along_axis(c, np.maximum(b - 1, 0)[:, None], 1)[:, 0], 0.0)
        count = np.take_along_axis(c, np.minimum(b, len(les) - 1)[:, None], 1)[:, 0] - prev_count
        res = start + (end - start) * ((rank - prev_count) / count)
        res = np.where(b == len(les) - 1, les[-2], res)
        res = np.where((b == 0) & (les[0] <= 0), les[0], res)
        res = np.where(obs == 0, np.nan, res)
    return _edge(q, res), fixed


def _edge(q: np.ndarray, res: np.ndarray) -> np.ndarray:
    out = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, res))
    return np.where(np.isnan(q), np.nan, out)
