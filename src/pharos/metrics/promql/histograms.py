"""histogram_quantile over classic (le-bucketed) histograms, vectorised over steps."""

from __future__ import annotations

from typing import Any

import numpy as np

from pharos.metrics.model import METRIC_NAME, Labels
from pharos.metrics.promql import labels as lb
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


def histogram_quantile(ev: Any, q: np.ndarray, v: Vector) -> Vector:
    """histogram_quantile(q, buckets) for classic histograms."""
    groups: dict[Labels, list[tuple[float, int]]] = {}
    for i, ls in enumerate(v.labels):
        le = _parse_le(lb.get(ls, "le"))
        if le is None:
            continue
        key = lb.without(ls, ["le", METRIC_NAME])
        groups.setdefault(key, []).append((le, i))
    steps = v.values.shape[1]
    keys, vals, pres = [], [], []
    for key, members in groups.items():
        members.sort(key=lambda p: p[0])
        les = np.array([p[0] for p in members])
        rows = np.array([p[1] for p in members])
        present = v.present[rows]
        out = np.full(steps, np.nan)
        has = present.any(axis=0)
        uniform = (present == present[:, :1]).all() if steps else True
        if uniform:
            sel = present[:, 0] if steps else np.zeros(len(rows), bool)
            out = _quantile(q, les[sel], v.values[rows[sel]])
        else:
            for t in np.flatnonzero(has):
                sel = present[:, t]
                out[t] = _quantile(q[t : t + 1], les[sel], v.values[rows[sel], t : t + 1])[0]
        keys.append(key)
        vals.append(out)
        pres.append(has)
    if not keys:
        return Vector.empty(steps)
    return Vector(keys, np.array(vals), np.array(pres), np.zeros(len(keys), bool))


def _quantile(q: np.ndarray, les: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Prometheus's bucketQuantile for sorted upper bounds and (B, T) cumulative counts."""
    steps = counts.shape[1]
    nan = np.full(steps, np.nan)
    if len(les) == 0 or not np.isposinf(les[-1]):
        return _edge(q, nan)
    uniq, inv = np.unique(les, return_inverse=True)
    c = np.zeros((len(uniq), steps))
    np.add.at(c, inv, counts)
    les = uniq
    prev = c[0].copy()
    for i in range(1, len(les)):
        cur = c[i]
        same = cur == prev
        close = ~same & almost_equal(prev, cur, SMALL_DELTA)
        dec = ~same & ~close & (cur < prev)
        c[i] = np.where(close | dec, prev, cur)
        prev = np.where(same | close | dec, prev, cur)
    if len(les) < 2:
        return _edge(q, nan)
    obs = c[-1]
    with np.errstate(all="ignore"):
        rank = q * obs
        ge = c[:-1] >= rank[None, :]
        b = np.where(ge.any(axis=0), np.argmax(ge, axis=0), len(les) - 1)
        cols = np.arange(steps)
        end = les[np.minimum(b, len(les) - 1)]
        start = np.where(b > 0, les[np.maximum(b - 1, 0)], 0.0)
        prev_count = np.where(b > 0, c[np.maximum(b - 1, 0), cols], 0.0)
        count = c[np.minimum(b, len(les) - 1), cols] - prev_count
        res = start + (end - start) * ((rank - prev_count) / count)
        res = np.where(b == len(les) - 1, les[-2], res)
        res = np.where((b == 0) & (les[0] <= 0), les[0], res)
        res = np.where(obs == 0, np.nan, res)
    return _edge(q, res)


def _edge(q: np.ndarray, res: np.ndarray) -> np.ndarray:
    out = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, res))
    return np.where(np.isnan(q), np.nan, out)
