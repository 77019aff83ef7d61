"""Causal rolling statistics over many series at once.

Every function takes an (n_series, T) float array (NaN = missing) and returns an array of the same
shape whose column t depends only on columns < t ("lagged"), so the same code serves streaming
evaluation and backtests without look-ahead.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pandas as pd

SEASONALITY_SECONDS = {"hourly": 3600, "daily": 86_400, "weekly": 7 * 86_400}


def as_2d(values: np.ndarray) -> np.ndarray:
    """A float64 (n, T) view of a 1-D or 2-D array."""
    arr = np.asarray(values, dtype=np.float64)
    return arr[None, :] if arr.ndim == 1 else arr


def lag(x: np.ndarray, k: int) -> np.ndarray:
    """x shifted right by k columns (NaN fill): column t holds x[:, t - k]."""
    out = np.full(x.shape, np.nan)
    if 0 < k < x.shape[1]:
        out[:, k:] = x[:, :-k]
    elif k == 0:
        out[:] = x
    return out


def lag_stack(x: np.ndarray, lags: list[int]) -> np.ndarray:
    """`lag(x, k)` for every k in `lags`, stacked along a new first axis (one allocation)."""
    out = np.full((len(lags), *x.shape), np.nan)
    for i, k in enumerate(lags):
        if 0 < k < x.shape[1]:
            out[i, :, k:] = x[:, :-k]
        elif k == 0:
            out[i] = x
    return out


def frame(x: np.ndarray) -> pd.DataFrame:
    """The (T, n) DataFrame view pandas rolls over."""
    return pd.DataFrame(x.T, copy=False)


def rolling_quantile(x: np.ndarray, window: int, q: float, min_periods: int | None = None) -> np.ndarray:
    """Quantile q of the previous `window` columns (excluding the current one)."""
    mp = max(1, window // 4) if min_periods is None else min_periods
    r = frame(x).rolling(window, min_periods=mp).quantile(q).to_numpy().T
    return lag(r, 1)


def rolling_median(x: np.ndarray, window: int, min_periods: int | None = None) -> np.ndarray:
    """Median of the previous `window` columns."""
    mp = max(1, window // 4) if min_periods is None else min_periods
    return lag(frame(x).rolling(window, min_periods=mp).median().to_numpy().T, 1)


def rolling_count(x: np.ndarray, window: int) -> np.ndarray:
    """How many finite values the previous `window` columns hold."""
    c = np.zeros((x.shape[0], x.shape[1] + 1))
    np.cumsum(np.isfinite(x), axis=1, out=c[:, 1:])
    start = np.maximum(np.arange(1, x.shape[1] + 1) - window, 0)
    return lag(c[:, 1:] - c[:, start], 1)


def nanmedian0(stack: np.ndarray) -> np.ndarray:
    """The median along axis 0 ignoring NaN (NaN where all are), by one sort: fast for short axes."""
    s = np.sort(stack, axis=0)  # NaN sorts last
    n = np.isfinite(stack).sum(axis=0)
    lo = np.take_along_axis(s, np.maximum(n - 1, 0)[None] // 2, axis=0)[0]
    hi = np.take_along_axis(s, (n // 2)[None], axis=0)[0]
    return np.where(n > 0, 0.5 * (lo + hi), np.nan)


def rolling_mean(x: np.ndarray, window: int, min_periods: int | None = None) -> np.ndarray:
    """Mean of the previous `window` columns."""
    mp = max(1, window // 4) if min_periods is None else min_periods
    return lag(frame(x).rolling(window, min_periods=mp).mean().to_numpy().T, 1)


def rolling_std(x: np.ndarray, window: int, min_periods: int | None = None) -> np.ndarray:
    """Standard deviation of the previous `window` columns."""
    mp = max(2, window // 4) if min_periods is None else min_periods
    return lag(frame(x).rolling(window, min_periods=mp).std().to_numpy().T, 1)


def ffill(x: np.ndarray) -> np.ndarray:
    """Carry the last finite value forward along each row."""
    return frame(x).ffill().to_numpy().T.copy()


def period_samples(seasonality: str | int | None, step_s: float) -> int:
    """The season length in samples for a named seasonality (or an explicit sample count)."""
    if seasonality in (None, "none", ""):
        return 0
    if isinstance(seasonality, int):
        return seasonality
    if seasonality not in SEASONALITY_SECONDS:
        raise ValueError(f"unknown seasonality {seasonality!r} (hourly, daily, weekly, auto)")
    return max(2, round(SEASONALITY_SECONDS[seasonality] / step_s))


def detect_period(x: np.ndarray, step_s: float, min_strength: float = 0.3) -> int:
    """The strongest of hourly/daily/weekly seasonality in a 1-D history, or 0 when none is clear.

    A candidate needs three full seasons of data and an autocorrelation at its lag of at least
    `min_strength` more than at half the lag (a trend correlates at every lag; a season does not).
    """
    return int(detect_periods(as_2d(x), step_s, min_strength)[0])


def detect_periods(x: np.ndarray, step_s: float, min_strength: float = 0.3) -> np.ndarray:
    """`detect_period` of every row of (n, T) `x`: gap-free rows at once, the others one by one."""
    out = np.zeros(len(x), np.int64)
    full = np.isfinite(x).all(axis=1)
    out[full] = _detect_rows(x[full], step_s, min_strength)
    for i in np.flatnonzero(~full):
        row = x[i][np.isfinite(x[i])]
        out[i] = _detect_rows(row[None, :], step_s, min_strength)[0]
    return out


def _detect_rows(x: np.ndarray, step_s: float, min_strength: float) -> np.ndarray:
    best, best_r = np.zeros(len(x), np.int64), np.full(len(x), min_strength)
    for name in ("hourly", "daily", "weekly"):
        p = period_samples(name, step_s)
        if p < 4 or x.shape[1] < 3 * p:
            continue
        r = _autocorr(x, p) - np.maximum(_autocorr(x, p // 2), 0.0)
        better = r > best_r + np.where(best > 0, 0.1, 0.0)
        best[better], best_r[better] = p, r[better]
    return best


def _autocorr(x: np.ndarray, lag_: int) -> np.ndarray:
    """Per row, the correlation of the series with itself `lag_` samples later."""
    a, b = x[:, :-lag_], x[:, lag_:]
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(all="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / denom, 0.0)


@contextmanager
def quiet() -> Iterator[None]:
    """Silence numpy's all-NaN slice warnings (a missing season is expected, not an error)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
