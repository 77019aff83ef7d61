"""Functions over range vectors (rate, *_over_time, ...), vectorised over series and steps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from pharos.metrics.promql.values import PromQLError, RangeData
from pharos.metrics.promql.windows import (
    avg_windows,
    go_sort,
    kahan_sum_windows,
    pair_counts,
    quantile_sorted,
    reduce_windows,
    regression_windows,
    sorted_windows,
    variance_windows,
    window_positions,
)

Arr = np.ndarray
Result = tuple[Arr, Arr]  # (values, present), both (n, T)

# Range functions that keep the metric name.
KEEP_NAME = {"last_over_time", "first_over_time"}


class Windows:
    """A range vector with its window bounds resolved."""

    def __init__(self, rd: RangeData, lo: Arr, hi: Arr) -> None:
        self.rd, self.lo, self.hi = rd, lo, hi
        self.ts, self.vals = rd.ts, rd.vals
        self.count = hi - lo
        self.last = np.maximum(hi - 1, 0)
        self.first = np.where(hi > lo, lo, 0)

    def get(self, arr: Arr, idx: Arr) -> Arr:
        return arr[idx] if arr.size else np.zeros(idx.shape, arr.dtype)


def extrapolated(w: Windows, is_counter: bool, is_rate: bool) -> Result:
    """rate / increase / delta with Prometheus's extrapolation to the window edges."""
    ok = w.count >= 2
    t0, t1 = w.get(w.ts, w.first), w.get(w.ts, w.last)
    v0, v1 = w.get(w.vals, w.first), w.get(w.vals, w.last)
    with np.errstate(all="ignore"):
        result = v1 - v0
        if is_counter:
            result = result + _reset_sum(w)
        ends = w.rd.ends[None, :]
        dur_start = (t0 - (ends - w.rd.range_ms)) / 1000.0
        dur_end = (ends - t1) / 1000.0
        sampled = (t1 - t0) / 1000.0
        avg = sampled / np.maximum(w.count - 1, 1)
        thr = avg * 1.1
        dur_start = np.where(dur_start >= thr, avg / 2, dur_start)
        if is_counter:
            to_zero = sampled * (v0 / result)
            use_zero = (result > 0) & (v0 >= 0) & (to_zero < dur_start)
            dur_start = np.where(use_zero, to_zero, dur_start)
        dur_end = np.where(dur_end >= thr, avg / 2, dur_end)
        factor = (sampled + dur_start + dur_end) / sampled
        if is_rate:
            factor = factor / (w.rd.range_ms / 1000.0)
        return result * factor, ok


def _reset_sum(w: Windows) -> Arr:
    """Sum of the values before each counter reset inside each window."""
    vals = w.vals
    if vals.size < 2:
        return np.zeros(w.lo.shape)
    contrib = np.zeros(vals.size)
    contrib[1:] = np.where(vals[1:] < vals[:-1], vals[:-1], 0.0)
    starts = w.rd.offsets[:-1]
    contrib[starts[starts < vals.size]] = 0.0
    if not contrib.any():
        return np.zeros(w.lo.shape)
    first = np.minimum(w.lo + 1, w.hi)
    return reduce_windows(np.add, contrib, first, w.hi, fill=0.0)


def instant_delta(w: Windows, is_rate: bool) -> Result:
    """irate / idelta from the last two samples."""
    ok = w.count >= 2
    prev = np.maximum(w.hi - 2, 0)
    v0, v1 = w.get(w.vals, prev), w.get(w.vals, w.last)
    with np.errstate(all="ignore"):
        if not is_rate:
            return v1 - v0, ok
        dv = np.where(v1 < v0, v1, v1 - v0)
        dt = (w.get(w.ts, w.last) - w.get(w.ts, prev)) / 1000.0
        return dv / dt, ok & (dt != 0)


def _pairs(w: Windows, flags_fn: Callable[[Arr, Arr], Arr]) -> Result:
    vals = w.vals
    flags = np.zeros(vals.size, bool)
    if vals.size > 1:
        with np.errstate(invalid="ignore"):
            flags[1:] = flags_fn(vals[1:], vals[:-1])
    return pair_counts(flags, w.rd.offsets, w.lo, w.hi).astype(float), w.count >= 1


def changes(w: Windows) -> Result:
    return _pairs(w, lambda cur, prev: ~((cur == prev) | (np.isnan(cur) & np.isnan(prev))))


def resets(w: Windows) -> Result:
    return _pairs(w, lambda cur, prev: cur < prev)


def deriv(w: Windows) -> Result:
    slope, _ = regression_windows(w.ts, w.vals, w.lo, w.hi, w.get(w.ts, w.first), w.rd.offsets)
    return slope, w.count >= 2


def predict_linear(w: Windows, duration: Arr) -> Result:
    step_ts = getattr(w.rd, "step_ts", w.rd.ends)
    slope, intercept = regression_windows(w.ts, w.vals, w.lo, w.hi, step_ts[None, :], w.rd.offsets)
    with np.errstate(all="ignore"):
        return slope * duration[None, :] + intercept, w.count >= 2


def quantile_over_time(w: Windows, q: Arr) -> Result:
    qq = np.broadcast_to(q[None, :], w.lo.shape).ravel()
    res = sorted_windows(w.vals, w.lo, w.hi, lambda r, c, sl: quantile_sorted(r, c, qq[sl]))
    return res, w.count >= 1


def mad_over_time(w: Windows) -> Result:
    med = sorted_windows(w.vals, w.lo, w.hi, lambda r, c, sl: quantile_sorted(r, c, 0.5))
    # Absolute deviations depend on the window's median, so gather per window.
    flat_lo, flat_hi = w.lo.ravel(), w.hi.ravel()
    out = np.full(flat_lo.shape, np.nan)
    counts = flat_hi - flat_lo
    longest = int(counts.max()) if counts.size else 0
    if longest:
        k = np.arange(longest)
        mask = k[None, :] < counts[:, None]
        idx = np.where(mask, flat_lo[:, None] + k[None, :], 0)
        dev = go_sort(np.where(mask, np.abs(w.vals[idx] - med.ravel()[:, None]), np.inf))
        out = quantile_sorted(dev, counts, 0.5)
    # A NaN sample makes the window's result NaN.
    nans = np.concatenate(([0], np.cumsum(np.isnan(w.vals))))
    out = np.where(nans[flat_hi] > nans[flat_lo], np.nan, out)
    return out.reshape(w.lo.shape), w.count >= 1


def double_exponential_smoothing(w: Windows, sf: Arr, tf: Arr) -> Result:
    for name, f in (("smoothing", sf), ("trend", tf)):
        bad = (f <= 0) | (f >= 1)
        if bad.any():
            raise PromQLError(
                f"invalid {name} factor. Expected: 0 < {'sf' if name == 'smoothing' else 'tf'} < 1,"
                f" got: {f[bad][0]:f}"
            )
    sf2, tf2 = sf[None, :], tf[None, :]
    s0 = np.zeros(w.lo.shape)
    s1 = w.get(w.vals, w.first)
    b = w.get(w.vals, np.minimum(w.first + 1, max(w.vals.size - 1, 0))) - s1
    with np.errstate(all="ignore"):
        for k, idx, mask in window_positions(w.lo, w.hi):
            if k == 0:
                continue
            x = sf2 * w.vals[idx]
            nb = b if k == 1 else tf2 * (s1 - s0) + (1 - tf2) * b
            y = (1 - sf2) * (s1 + nb)
            s0, s1, b = np.where(mask, s1, s0), np.where(mask, x + y, s1), np.where(mask, nb, b)
    return s1, w.count >= 2


def _ts_of(w: Windows, which: str) -> Arr:
    """Timestamp (s) of the min/max sample of each window (the last one on ties)."""
    better = np.zeros(w.lo.shape, np.int64)
    best = np.full(w.lo.shape, np.nan)
    with np.errstate(invalid="ignore"):
        for _, idx, mask in window_positions(w.lo, w.hi):
            v = w.vals[idx]
            cmp = v >= best if which == "max" else v <= best
            take = mask & (np.isnan(best) | cmp)
            best = np.where(take, v, best)
            better = np.where(take, idx, better)
    return w.get(w.ts, better) / 1000.0


def simple(name: str, w: Windows) -> Result:
    """The *_over_time functions that take only the range vector."""
    has = w.count >= 1
    with np.errstate(all="ignore"):
        if name == "count_over_time":
            return w.count.astype(float), has
        if name == "sum_over_time":
            return kahan_sum_windows(w.vals, w.lo, w.hi), has
        if name == "avg_over_time":
            return avg_windows(w.vals, w.lo, w.hi), has
        if name == "min_over_time":
            return reduce_windows(np.fmin, w.vals, w.lo, w.hi), has
        if name == "max_over_time":
            return reduce_windows(np.fmax, w.vals, w.lo, w.hi), has
        if name == "last_over_time":
            return w.get(w.vals, w.last), has
        if name == "first_over_time":
            return w.get(w.vals, w.first), has
        if name == "present_over_time":
            return np.ones(w.lo.shape), has
        if name == "stdvar_over_time":
            return variance_windows(w.vals, w.lo, w.hi), has
        if name == "stddev_over_time":
            return np.sqrt(variance_windows(w.vals, w.lo, w.hi)), has
        if name == "ts_of_last_over_time":
            return w.get(w.ts, w.last) / 1000.0, has
        if name == "ts_of_first_over_time":
            return w.get(w.ts, w.first) / 1000.0, has
        if name == "ts_of_max_over_time":
            return _ts_of(w, "max"), has
        if name == "ts_of_min_over_time":
            return _ts_of(w, "min"), has
        if name == "mad_over_time":
            return mad_over_time(w)
        if name in ("rate", "increase", "delta"):
            return extrapolated(w, name != "delta", name == "rate")
        if name in ("irate", "idelta"):
            return instant_delta(w, name == "irate")
        if name == "changes":
            return changes(w)
        if name == "resets":
            return resets(w)
        if name == "deriv":
            return deriv(w)
    raise KeyError(name)


SIMPLE = {
    "count_over_time",
    "sum_over_time",
    "avg_over_time",
    "min_over_time",
    "max_over_time",
    "last_over_time",
    "first_over_time",
    "present_over_time",
    "stdvar_over_time",
    "stddev_over_time",
    "ts_of_last_over_time",
    "ts_of_first_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
    "mad_over_time",
    "rate",
    "increase",
    "delta",
    "irate",
    "idelta",
    "changes",
    "resets",
    "deriv",
}


def apply(name: str, w: Windows, args: list[Any]) -> Result:
    """Dispatch a range function by name; `args` are the evaluated extra (scalar) arguments."""
    if name in SIMPLE:
        return simple(name, w)
    if name == "predict_linear":
        return predict_linear(w, args[0])
    if name == "quantile_over_time":
        return quantile_over_time(w, args[0])
    if name in ("double_exponential_smoothing", "holt_winters"):
        return double_exponential_smoothing(w, args[0], args[1])
    raise PromQLError(f"function {name!r} is not supported")
