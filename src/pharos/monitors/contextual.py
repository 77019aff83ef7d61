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
Besides the point itself, only points before t decide its score (the range, the contexts and
their continuations).
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
            out[i, ok] = _row_novelty(row[ok], levels, orders, grow)
    return out


def _row_novelty(x: np.ndarray, levels: tuple[int, ...], orders: int, grow: float) -> np.ndarray:
    """Novelty of one gap-free series: every (resolution, epoch) prefix binned, all in one pass.

    Each block holds the points before an epoch's end binned at that epoch's range; the blocks
    are concatenated and scored together (a pattern only matches within its own block).
    """
    out = np.ones(len(x))
    epochs = np.array(_epochs(x, grow)).reshape(-1, 4)
    if not len(epochs):
        return out
    spans = np.tile(epochs, (len(levels), 1))
    bins = np.repeat(np.asarray(levels, np.float64), len(epochs))
    stop = spans[:, 1].astype(np.int64)
    ends = np.cumsum(stop)
    per_point = np.repeat(np.c_[ends - stop, spans[:, :1], spans[:, 2:], bins], stop, axis=0)
    pos = np.arange(ends[-1]) - per_point[:, 0].astype(np.int64)  # index in x (and in the block)
    sym = _symbols(x[pos], per_point[:, 2], per_point[:, 3], per_point[:, 4])
    share = _broken_share(sym, ends, max(levels) + 2, orders)
    scored = pos >= per_point[:, 1]  # each epoch scores its own points; earlier ones are context
    out[1:] = np.bincount(pos[scored], share[scored], len(x))[1:] / len(levels)
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


def _symbols(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Bin 1..levels of each value within [lo, hi]; 0 below, levels + 1 above (all per value)."""
    step = np.where(hi > lo, (hi - lo) / levels, 1.0)
    inside = np.clip(np.floor((x - lo) / step), 0, levels - 1).astype(np.int64) + 1
    return np.where(x < lo, 0, np.where(x > hi, levels.astype(np.int64) + 1, inside))


def _broken_share(sym: np.ndarray, ends: np.ndarray, base: int, orders: int) -> np.ndarray:
    """Per point, the share of contexts (lengths 0..orders) seen before in its block whose
    continuation is new; blocks of `sym` end at `ends`.

    The context of length k + 1 at i is the pattern of length k + 1 ending at i - 1, so whether it
    was seen is whether that pattern was seen before i - 1: one `_first_seen` per length.
    """
    n = len(sym)
    i = np.arange(n)
    block = np.repeat(np.arange(len(ends)), np.diff(ends, prepend=0))
    pos = i - np.r_[0, ends[:-1]][block]  # index within the block
    space = base ** (orders + 1)
    seen, broken = np.zeros(n), np.zeros(n)
    pattern = sym.copy()  # code of the k + 1 symbols ending at each point (valid from pos k)
    had_ctx = pos > 0  # the empty context precedes every point but a block's first
    for k in range(orders + 1):
        if k:
            pattern[k:] = pattern[k - 1 : -1] * base + sym[k:]
        key = np.where(pos >= k, block * space + pattern, -1 - i)  # short prefixes match nothing
        had_pattern = _first_seen(key) < i
        seen += had_ctx
        broken += had_ctx & ~had_pattern
        had_ctx = np.r_[False, had_pattern[:-1]] & (pos > k)
    with np.errstate(invalid="ignore"):
        return np.where(seen > 0, broken / seen, 1.0)


def _first_seen(codes: np.ndarray) -> np.ndarray:
    """Per position, the index where its code first occurs (the least index of its group)."""
    order = np.argsort(codes)
    ranked = codes[order]
    new = np.r_[True, ranked[1:] != ranked[:-1]]
    first = np.minimum.reduceat(order, np.flatnonzero(new))
    out = np.empty(len(codes), np.int64)
    out[order] = first[np.cumsum(new) - 1]
    return out
