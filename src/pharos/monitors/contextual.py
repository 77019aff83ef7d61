"""Contextual novelty: how many of the value patterns learned so far the newest point breaks.

In the spirit of the contextual anomaly detector (CAD OSE): each value is discretised into
`levels` equal bins over the range seen so far (plus a bin below and one above it); for every
context length k = 0..`orders` the detector asks whether the last k symbols (the context) have
been seen before and, if so, whether they were ever followed by the current symbol. The novelty
of a point is the share of seen contexts whose continuation is new (1 when no context was seen),
averaged over a few resolutions (`LEVELS`) so that no single choice of bin edges decides.

The history is always discretised at the current resolution: when the range grows by more than
`grow` the past is re-read with the new bins (an epoch), so the model at point t equals one built
from points < t with their range, and a new extreme does not make every later pattern look new.
Only points before t decide its score (the range, the contexts and their continuations).
"""

from __future__ import annotations

import numpy as np

from pharos.monitors import rolling as rl

LEVELS = (6, 7, 8)  # resolutions averaged (CAD OSE uses 8 bins)
ORDERS = 4  # longest context, in points
GROW = 0.0  # relative range growth that starts a new epoch (0: every new extreme)


def novelty(
    values: np.ndarray, levels: tuple[int, ...] = LEVELS, orders: int = ORDERS, grow: float = GROW
) -> np.ndarray:
    """Novelty in [0, 1] per series (rows of (n, T) or a 1-D array) and point; NaN where missing.

    Missing points are skipped (the contexts join the points on either side of a gap).
    """
    x = rl.as_2d(values)
    out = np.full(x.shape, np.nan)
    for i, row in enumerate(x):
        ok = np.flatnonzero(np.isfinite(row))
        if len(ok):
            out[i, ok] = np.mean([_row_novelty(row[ok], n, orders, grow) for n in levels], axis=0)
    return out


def _row_novelty(x: np.ndarray, levels: int, orders: int, grow: float) -> np.ndarray:
    """Novelty of one gap-free series, epoch by epoch."""
    out = np.ones(len(x))
    for start, stop, lo, hi in _epochs(x, grow):
        sym = _symbols(x[:stop], lo, hi, levels)
        out[start:stop] = _broken_share(sym, levels + 2, orders)[start:stop]
    return out


def _epochs(x: np.ndarray, grow: float) -> list[tuple[int, int, float, float]]:
    """Spans [start, stop) of points scored with the same range (that of the points before)."""
    lo, hi = np.minimum.accumulate(x), np.maximum.accumulate(x)
    width = hi - lo  # non-decreasing, so the next epoch is found by bisection
    spans, start = [], 1
    while start < len(x):
        ref = width[start - 1]
        limit = (1.0 + grow) * ref if ref > 0 else 0.0
        stop = min(int(np.searchsorted(width, limit, side="right")) + 1, len(x))
        spans.append((start, stop, lo[start - 1], hi[start - 1]))
        start = stop
    return spans


def _symbols(x: np.ndarray, lo: float, hi: float, levels: int) -> np.ndarray:
    """Bin 1..levels of each value within [lo, hi]; 0 below, levels + 1 above."""
    step = (hi - lo) / levels if hi > lo else 1.0
    inside = np.clip(np.floor((x - lo) / step), 0, levels - 1).astype(np.int64) + 1
    return np.where(x < lo, 0, np.where(x > hi, levels + 1, inside))


def _broken_share(sym: np.ndarray, base: int, orders: int) -> np.ndarray:
    """Per point, the share of contexts (lengths 0..orders) seen before whose continuation is new."""
    n = len(sym)
    seen, broken = np.zeros(n), np.zeros(n)
    ctx = np.zeros(n, np.int64)  # the code of the last k symbols before each point
    for k in range(orders + 1):
        if k:
            prev, ctx = ctx, np.zeros(n, np.int64)
            ctx[k:] = prev[k - 1 : -1] * base + sym[k - 1 : -1]
        t = np.arange(k, n)
        had_ctx = _first_seen(ctx[k:]) + k < t
        had_pair = _first_seen(ctx[k:] * base + sym[k:]) + k < t
        seen[k:] += had_ctx
        broken[k:] += had_ctx & ~had_pair
    with np.errstate(invalid="ignore"):
        return np.where(seen > 0, broken / seen, 1.0)


def _first_seen(codes: np.ndarray) -> np.ndarray:
    """Per position, the index where its code first occurs."""
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    return first[inverse]
