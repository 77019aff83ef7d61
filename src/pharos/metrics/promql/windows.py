"""Vectorised window arithmetic over flat per-series sample arrays.

A range vector holds the samples of n series concatenated in flat arrays with `offsets` marking
series boundaries. For every (series, step) pair the window (end - range, end] is a slice
[lo, hi) of the flat arrays, found for all pairs with one `np.searchsorted` over a composite
key (series index * span + time). Range functions are then numpy expressions over the (n, T)
index matrices: reductions use `ufunc.reduceat` (cost bounded by the samples in the windows),
and the few functions whose exact rounding matters (Kahan sums, Welford variance, regression)
iterate over the position inside the window, vectorised across all windows at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

Arr = np.ndarray
_BINCOUNT_CELLS = 8_000_000  # series x steps up to which window bounds come from a histogram
_DENSE_CELLS = 1 << 22  # cells of a padded (window position x window) matrix handled at once


def window_bounds(ts: Arr, offsets: Arr, ends: Arr, range_ms: int) -> tuple[Arr, Arr]:
    """Flat index bounds [lo, hi) of the left-open windows (end - range, end] per series and step."""
    n, steps = len(offsets) - 1, len(ends)
    if n == 0 or steps == 0:
        return np.zeros((n, steps), np.int64), np.zeros((n, steps), np.int64)
    starts = ends - range_ms
    if steps == 1:
        return _upto(ts, offsets, int(starts[0])), _upto(ts, offsets, int(ends[0]))
    step = int(ends[1] - ends[0])
    if step > 0 and n * steps <= _BINCOUNT_CELLS and (np.diff(ends) == step).all():
        seg = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
        return _count_upto(ts, seg, offsets, starts, step), _count_upto(ts, seg, offsets, ends, step)
    base = int(min(ts.min() if len(ts) else 0, starts.min()))
    span = int(max(ts.max() if len(ts) else 0, ends.max())) - base + 2
    if span * n < 2**62:
        seg = np.repeat(np.arange(n, dtype=np.int64), np.diff(offsets))
        key = ts - base + seg * span
        row = (np.arange(n, dtype=np.int64) * span)[:, None]
        lo = np.searchsorted(key, (starts - base)[None, :] + row, side="right")
        hi = np.searchsorted(key, (ends - base)[None, :] + row, side="right")
        return lo.astype(np.int64), hi.astype(np.int64)
    lo = np.empty((n, steps), np.int64)
    hi = np.empty((n, steps), np.int64)
    for j in range(n):
        part = ts[offsets[j] : offsets[j + 1]]
        lo[j] = offsets[j] + np.searchsorted(part, starts, side="right")
        hi[j] = offsets[j] + np.searchsorted(part, ends, side="right")
    return lo, hi


def _upto(ts: Arr, offsets: Arr, point: int) -> Arr:
    """(n, 1): per series, offsets[i] + (samples with ts <= point), from one running count."""
    below = np.zeros(len(ts) + 1, np.int64)
    np.cumsum(ts <= point, out=below[1:])
    return (offsets[:-1] + below[offsets[1:]] - below[offsets[:-1]])[:, None]


def _count_upto(ts: Arr, seg: Arr, offsets: Arr, points: Arr, step: int) -> Arr:
    """Per series and point of a regular grid, offsets[i] + (samples with ts <= point): each
    sample is counted from the first point at or after it (a histogram, then a running sum)."""
    n, steps = len(offsets) - 1, len(points)
    first = np.clip(-((int(points[0]) - ts) // step), 0, steps)
    hist = np.bincount(seg * (steps + 1) + first, minlength=n * (steps + 1)).reshape(n, steps + 1)
    return offsets[:-1, None] + np.cumsum(hist[:, :steps], axis=1)


def reduce_windows(ufunc: np.ufunc, vals: Arr, lo: Arr, hi: Arr, fill: float = np.nan) -> Arr:
    """ufunc.reduce over every window [lo, hi); `fill` where a window is empty."""
    if lo.size == 0 or vals.size == 0:
        return np.full(lo.shape, fill)
    padded = np.append(vals, vals.dtype.type(0))
    idx = np.empty(lo.size * 2, np.int64)
    idx[0::2] = lo.ravel()
    idx[1::2] = np.maximum(hi.ravel(), lo.ravel())
    out = ufunc.reduceat(padded, idx)[0::2].reshape(lo.shape)
    return np.where(hi > lo, out, fill)


def pair_counts(flags: Arr, offsets: Arr, lo: Arr, hi: Arr) -> Arr:
    """Per window, how many adjacent pairs (k-1, k) inside it have flags[k] set.

    `flags[k]` describes the pair ending at flat index k; entries at series starts are ignored.
    """
    f = flags.astype(np.int64)
    f[offsets[:-1][offsets[:-1] < len(f)]] = 0
    cs = np.concatenate(([0], np.cumsum(f)))
    first = np.minimum(lo + 1, hi)
    return np.where(hi > lo, cs[hi] - cs[first], 0)


def window_positions(lo: Arr, hi: Arr) -> Iterator[tuple[int, Arr, Arr]]:
    """Yield (k, flat index, mask) for the k-th sample of every window, k = 0.. longest - 1."""
    if lo.size == 0:
        return
    longest = int((hi - lo).max())
    for k in range(longest):
        idx = lo + k
        mask = idx < hi
        yield k, np.where(mask, idx, 0), mask


def kahan_inc(inc: Arr, s: Arr, c: Arr) -> tuple[Arr, Arr]:
    """Kahan-Babuška (Neumaier) summation step, elementwise, as Prometheus does it."""
    with np.errstate(invalid="ignore", over="ignore"):
        t = s + inc
        big = np.abs(s) >= np.abs(inc)
        dc = np.where(big, (s - t) + inc, (inc - t) + s)
        c = np.where(np.isinf(t), 0.0, c + dc)
    return t, c


def well_conditioned(vals: Arr) -> bool:
    """True when plain summation is as accurate as Kahan summation to far below 1e-9."""
    if vals.size == 0:
        return True
    if not np.isfinite(vals).all():
        return False
    if not ((vals >= 0).all() or (vals <= 0).all()):
        return False
    mags = np.abs(vals)
    nonzero = mags[mags > 0]
    if nonzero.size == 0:
        return True
    top = float(nonzero.max())
    return top <= 1e6 * float(nonzero.min()) and top * vals.size < 1e300


def kahan_sum_windows(vals: Arr, lo: Arr, hi: Arr) -> Arr:
    """Kahan-compensated sum of each window (NaN where empty)."""
    if well_conditioned(vals):
        return reduce_windows(np.add, vals, lo, hi)
    return _neumaier_windows(vals, lo, hi, from_zero=True)


def compensated_sum_windows(vals: Arr, lo: Arr, hi: Arr) -> Arr:
    """Prometheus 3.x's sum(): each window's first value, then `kahan_inc` of every next value in
    order, result sum + compensation (NaN where empty). Unlike a plain sum this does not depend
    on numpy's summation order, so mathematically equal sums compare equal as in Prometheus."""
    return _neumaier_windows(vals, lo, hi, from_zero=False)


def _neumaier_windows(vals: Arr, lo: Arr, hi: Arr, from_zero: bool) -> Arr:
    """Sequential Neumaier sums of the windows (starting from 0.0 or from the first value),
    bit for bit as `kahan_inc` applied value by value."""
    counts = np.maximum(hi - lo, 0).ravel()
    out = np.full(counts.size, np.nan)
    if vals.size == 0:
        return out.reshape(lo.shape)
    flat_lo = lo.ravel()
    for cols in _column_chunks(counts):
        dense = _padded_windows(vals, flat_lo[cols], counts[cols])
        out[cols] = _neumaier_columns(dense, counts[cols], from_zero)
    return out.reshape(lo.shape)


def _column_chunks(counts: Arr) -> Iterator[Arr]:
    """Indexes of the non-empty windows, in chunks of similar length (power-of-two buckets)
    whose padded matrices hold at most _DENSE_CELLS cells."""
    bucket = np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64)
    bucket[counts == 0] = -1
    for b in np.unique(bucket[bucket >= 0]).tolist():
        cols = np.flatnonzero(bucket == b)
        per = max(1, _DENSE_CELLS >> b)
        for a in range(0, len(cols), per):
            yield cols[a : a + per]


def _neumaier_columns(dense: Arr, counts: Arr, from_zero: bool) -> Arr:
    """Neumaier sum of each column's first `counts` values (counts >= 1). The running sum is a
    sequential float sum (one `np.add.accumulate` down the matrix), each step's rounding error
    follows from it in one vectorised expression, and the compensation is their sequential sum.
    A sum that reaches ±Inf ends as it (the compensation is reset there); NaN stays NaN."""
    if from_zero:
        dense = np.vstack([np.zeros((1, counts.size)), dense])
        counts = counts + 1
    cols = np.arange(counts.size)
    last = counts - 1
    with np.errstate(invalid="ignore", over="ignore"):
        sums = np.add.accumulate(dense, axis=0)
        prev, t, inc = sums[:-1], sums[1:], dense[1:]
        err = np.where(np.abs(prev) >= np.abs(inc), (prev - t) + inc, (inc - t) + prev)
        err[np.arange(len(err))[:, None] >= last[None, :]] = 0.0  # padding after the window
        comp = np.add.accumulate(np.vstack([np.zeros((1, counts.size)), err]), axis=0)
        s, c = sums[last, cols], comp[last, cols]
        return np.where(np.isinf(s), s, s + c)


def _padded_windows(vals: Arr, lo: Arr, counts: Arr) -> Arr:
    """(longest, windows) matrix: column j holds window j's values in order, then zeros."""
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    pos = np.arange(total, dtype=np.int64) - np.repeat(starts, counts)
    dense = np.zeros((int(counts.max()), counts.size), vals.dtype)
    dense[pos, np.repeat(np.arange(counts.size), counts)] = vals[np.repeat(lo, counts) + pos]
    return dense


def avg_windows(vals: Arr, lo: Arr, hi: Arr) -> Arr:
    """Mean of each window: Kahan sum / count, switching to an incremental mean on overflow."""
    cnt = (hi - lo).astype(float)
    if well_conditioned(vals):
        with np.errstate(invalid="ignore", divide="ignore"):
            return reduce_windows(np.add, vals, lo, hi) / cnt
    safe = np.where(hi > lo, lo, 0)
    s = vals[safe] if vals.size else np.zeros(lo.shape)
    c = np.zeros(lo.shape)
    mean = np.zeros(lo.shape)
    incr = np.zeros(lo.shape, bool)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k, idx, mask in window_positions(lo, hi):
            if k == 0:
                continue
            count = float(k + 1)
            x = vals[idx]
            ns, nc = kahan_inc(x, s, c)
            overflow = mask & ~incr & np.isinf(ns)
            direct = mask & ~incr & ~overflow
            s, c = np.where(direct, ns, s), np.where(direct, nc, c)
            mean = np.where(overflow, s / (count - 1), mean)
            c = np.where(overflow, c / (count - 1), c)
            incr = incr | overflow
            q = (count - 1) / count
            nm, nc2 = kahan_inc(x / count, q * mean, q * c)
            upd = mask & incr
            mean, c = np.where(upd, nm, mean), np.where(upd, nc2, c)
        out = np.where(incr, mean + c, s / cnt + c / cnt)
        out = np.where(~incr & np.isinf(s), s / cnt, out)
    return np.where(hi > lo, out, np.nan)


def variance_windows(vals: Arr, lo: Arr, hi: Arr) -> Arr:
    """Population variance of each window (Welford with Kahan-compensated accumulators)."""
    count = np.zeros(lo.shape)
    mean, cmean = np.zeros(lo.shape), np.zeros(lo.shape)
    aux, caux = np.zeros(lo.shape), np.zeros(lo.shape)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for _, idx, mask in window_positions(lo, hi):
            x = vals[idx]
            count = np.where(mask, count + 1, count)
            delta = x - (mean + cmean)
            nm, ncm = kahan_inc(delta / np.maximum(count, 1), mean, cmean)
            mean, cmean = np.where(mask, nm, mean), np.where(mask, ncm, cmean)
            na, nca = kahan_inc(delta * (x - (mean + cmean)), aux, caux)
            aux, caux = np.where(mask, na, aux), np.where(mask, nca, caux)
        out = (aux + caux) / count
    return np.where(hi > lo, out, np.nan)


_EPS = float(np.finfo(float).eps)
_REG_TOL = 1e-10  # relative error bound above which a window's regression is recomputed exactly


def regression_windows(
    ts: Arr, vals: Arr, lo: Arr, hi: Arr, intercept_ms: Arr, offsets: Arr | None = None
) -> tuple[Arr, Arr]:
    """Least-squares slope and intercept per window, x in seconds relative to `intercept_ms`,
    as Prometheus's Kahan-compensated sums give them. Window sums come from compensated prefix
    sums (O(samples + windows)) of y less its series' first value (series bounds: `offsets`); a window whose error bound exceeds _REG_TOL relative (heavy
    cancellation, constant or tiny windows) is recomputed by `_regression_exact`."""
    icpt = np.broadcast_to(intercept_ms, lo.shape)
    if vals.size == 0 or not np.isfinite(vals).all():
        return _regression_exact(ts, vals, lo, hi, icpt)
    bounds = np.array([0, vals.size]) if offsets is None else offsets
    found = _regression_prefix(ts, vals, lo, hi, icpt, bounds)
    if found is None:
        return _regression_exact(ts, vals, lo, hi, icpt)
    slope, intercept, unsure = found
    if unsure.any():
        slope[unsure], intercept[unsure] = _regression_exact(ts, vals, lo[unsure], hi[unsure], icpt[unsure])
    return slope, intercept


def _regression_prefix(
    ts: Arr, vals: Arr, lo: Arr, hi: Arr, icpt: Arr, offsets: Arr
) -> tuple[Arr, Arr, Arr] | None:
    """Slope, intercept and an "unsure" mask per window from prefix sums of x, y, xy and x²
    (x from the earliest sample, y from its series' first value); None when a sum overflows.
    Unsure: this computation's error bound, or the rounding Prometheus' own sums would show,
    exceeds _REG_TOL relative (those windows must follow Prometheus' summation order)."""
    ref = int(ts.min())
    x = (ts - ref).astype(float) / 1e3
    counts = np.diff(offsets)
    y0 = np.repeat(vals[offsets[:-1][counts > 0]], counts[counts > 0])
    n = np.maximum(hi - lo, 0).astype(float)
    first = np.where(hi > lo, lo, 0)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        sums = [_window_sums(v, lo, hi) for v in (x, vals - y0, x * (vals - y0), x * x)]
        if not all(np.isfinite(s).all() for s, _ in sums):
            return None
        (sx, ex), (sy, ey), (sxy, exy), (sx2, ex2) = sums
        cov, var = sxy - sx * sy / n, sx2 - sx * sx / n
        slope = cov / var
        xbar = sx / n - (icpt - ref) / 1e3
        intercept = sy / n - slope * xbar + y0[first]
        spread = (ts[np.maximum(hi - 1, 0)] - ts[first]) / 1e3
        p_cov, p_var, p_int = _prometheus_rounding(n, np.abs(xbar), spread, np.abs(intercept), np.abs(slope))
        e_cov = exy + (ex * np.abs(sy) + np.abs(sx) * ey) / n + 2 * _EPS * (np.abs(sxy) + np.abs(sx * sy / n))
        e_var = ex2 + 2 * np.abs(sx) * ex / n + 2 * _EPS * (sx2 + sx * sx / n)
        e_slope = (e_cov + p_cov) / np.abs(cov) + (e_var + p_var) / np.abs(var)
        e_int = (ey + np.abs(slope) * ex) / n + e_slope * np.abs(slope * xbar) + p_int
        unsure = ~((e_slope <= _REG_TOL) & (e_int <= _REG_TOL * np.abs(intercept)))
    const = _changes(vals, lo, hi) == 0
    return np.where(const, 0.0, slope), np.where(const, vals[first], intercept), unsure & ~const


def _prometheus_rounding(n: Arr, xbar: Arr, spread: Arr, icpt: Arr, slope: Arr) -> tuple[Arr, Arr, Arr]:
    """Estimated rounding of Prometheus' covariance, variance and intercept for windows of n
    samples, x relative to the intercept time (|mean| xbar, range spread), y near the line."""
    xm = xbar + spread
    ym = icpt + slope * xm
    return 4 * _EPS * n * xm * ym, 4 * _EPS * n * xm * xm, 4 * _EPS * (ym + slope * xbar)


def _window_sums(v: Arr, lo: Arr, hi: Arr) -> tuple[Arr, Arr]:
    """Each window's sum of v from Neumaier-compensated prefix sums (a double-double running
    total, so a difference is accurate to its own magnitude), and a bound on its error."""
    total = np.zeros(v.size + 1)
    np.cumsum(v, out=total[1:])
    prev, t = total[:-1], total[1:]
    err = np.where(np.abs(prev) >= np.abs(v), (prev - t) + v, (v - t) + prev)
    comp = np.zeros(v.size + 1)
    np.cumsum(err, out=comp[1:])
    mag = np.zeros(v.size + 1)
    np.cumsum(np.abs(v), out=mag[1:])
    s = (total[hi] - total[lo]) + (comp[hi] - comp[lo])
    return s, 4 * _EPS * ((mag[hi] - mag[lo]) + _EPS * mag[hi])


def _changes(vals: Arr, lo: Arr, hi: Arr) -> Arr:
    """Per window, how many samples differ from the one before (0: a constant window)."""
    diff = np.zeros(vals.size, np.int64)
    np.cumsum(vals[1:] != vals[:-1], out=diff[1:])
    return np.where(hi > lo, diff[np.maximum(hi - 1, 0)] - diff[np.minimum(lo, vals.size - 1)], 0)


def _regression_exact(ts: Arr, vals: Arr, lo: Arr, hi: Arr, icpt: Arr) -> tuple[Arr, Arr]:
    """Slope and intercept per window with the four sums Kahan-compensated in sample order,
    step by step as Prometheus does."""
    shape = lo.shape
    counts = np.maximum(hi - lo, 0).ravel()
    n = counts.astype(float)
    sx, sy, sxy, sx2 = (np.zeros(counts.size) for _ in range(4))
    init_y = (vals[np.where(hi > lo, lo, 0)] if vals.size else np.zeros(shape)).ravel()
    const_y = np.ones(counts.size, bool)
    flat_lo, icpt = lo.ravel(), icpt.ravel()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for cols in _column_chunks(counts) if vals.size else ():
            c = counts[cols]
            y = _padded_windows(vals, flat_lo[cols], c)
            x = (_padded_windows(ts, flat_lo[cols], c) - icpt[cols][None, :]).astype(float) / 1e3
            pad = np.arange(len(y))[:, None] >= c[None, :]
            const_y[cols] = ((y == init_y[cols][None, :]) | pad).all(axis=0)
            for acc, inc in ((sx, x), (sy, y), (sxy, x * y), (sx2, x * x)):
                acc[cols] = _neumaier_columns(inc, c, from_zero=True)
        cov = sxy - sx * sy / n
        var = sx2 - sx * sx / n
        slope = cov / var
        intercept = sy / n - slope * sx / n
    inf_const = const_y & np.isinf(init_y)
    slope = np.where(const_y, np.where(inf_const, np.nan, 0.0), slope)
    intercept = np.where(const_y, np.where(inf_const, np.nan, init_y), intercept)
    return slope.reshape(shape), intercept.reshape(shape)


def sorted_windows(vals: Arr, lo: Arr, hi: Arr, fn: Callable[[Arr, Arr, slice], Arr]) -> Arr:
    """Apply fn(sorted_rows, counts, flat_slice) to windows gathered into sorted padded rows."""
    flat_lo, flat_hi = lo.ravel(), hi.ravel()
    counts = flat_hi - flat_lo
    out = np.full(flat_lo.shape, np.nan)
    longest = int(counts.max()) if counts.size else 0
    if longest == 0:
        return out.reshape(lo.shape)
    chunk = max(1, 4_000_000 // longest)
    for start in range(0, len(flat_lo), chunk):
        sl = slice(start, start + chunk)
        k = np.arange(longest)
        idx = flat_lo[sl, None] + k[None, :]
        mask = k[None, :] < counts[sl, None]
        rows = go_sort(np.where(mask, vals[np.where(mask, idx, 0)], np.inf))
        out[sl] = fn(rows, counts[sl], sl)
    return out.reshape(lo.shape)


def go_sort(rows: Arr) -> Arr:
    """Sort each row ascending with NaN first, as Go's sort.Float64s does."""
    nans = np.isnan(rows)
    out = np.sort(np.where(nans, -np.inf, rows), axis=1)
    k = np.arange(rows.shape[1])
    out[k[None, :] < nans.sum(axis=1)[:, None]] = np.nan
    return out


def quantile_sorted(rows: Arr, counts: Arr, q: Arr | float) -> Arr:
    """Prometheus's quantile of each sorted row of `counts` valid leading values."""
    qa = np.broadcast_to(np.asarray(q, dtype=float), counts.shape)
    n = counts.astype(float)
    with np.errstate(invalid="ignore"):
        rank = np.nan_to_num(qa * (n - 1), nan=0.0, posinf=0.0, neginf=0.0)
        lower = np.clip(np.floor(rank), 0, np.maximum(n - 1, 0)).astype(np.int64)
        upper = np.clip(lower + 1, 0, np.maximum(n - 1, 0)).astype(np.int64)
        weight = rank - np.floor(rank)
        r = np.arange(len(counts))
        lv, uv = rows[r, lower], rows[r, upper]
        out = lv * (1 - weight) + uv * weight
    out = np.where(qa < 0, -np.inf, np.where(qa > 1, np.inf, out))
    out = np.where(np.isnan(qa), np.nan, out)
    return np.where(counts > 0, out, np.nan)
