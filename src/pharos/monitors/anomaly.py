"""Anomaly detection bands: `basic`, `agile`, `robust` and `contextual`.

Each algorithm predicts, for every point, an expected value (`center`) and a robust scale
(`sigma`) from strictly earlier points only, so a band computed over a whole history equals the
band a streaming evaluator would have produced point by point. The band is
`center +/- bounds * sigma`; the anomaly score is `|x - center| / (bounds * sigma)`, so a score above
1 means the point lies outside the band.

* `basic` — lagging rolling quantiles, no seasonality: the median of the last `window` points and
  the spread of their 10th..90th percentiles.
* `agile` — a robust seasonal-naive model: the (smoothed) value one season ago, shifted by how much
  the level moved since; follows level shifts within a few points.
* `robust` — seasonal-trend decomposition by medians: a long trend median plus the median seasonal
  deviation of the last few seasons; long anomalies barely move it.
* `contextual` — `agile`'s band, but the score is twice the contextual novelty (`contextual.py`):
  above 1 when more than half of the value patterns seen before are broken by the point.

All functions take 1-D or (n_series, T) arrays (NaN = missing) and work on all series at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pharos.monitors import rolling as rl
from pharos.monitors.contextual import novelty

ALGORITHMS = ("basic", "agile", "robust", "contextual")
BAND_OF = {"contextual": "agile"}  # algorithms whose band is another's (same band, cheaper)
Fit = tuple[np.ndarray, np.ndarray, np.ndarray]  # center, sigma, typical level (for the sigma floor)
MAD_TO_SIGMA = 1.4826
IDR_TO_SIGMA = 1.0 / 2.5631  # 10th..90th percentile range of a normal distribution


@dataclass
class AnomalyBand:
    """Expected value, scale, band and score per series and point, each (n, T)."""

    center: np.ndarray
    sigma: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    score: np.ndarray


@dataclass
class AnomalyParams:
    """Tuning of the anomaly algorithms (defaults are the ones benchmarked on NAB)."""

    bounds: float = 2.0
    window: int = 48  # basic / agile level window, samples
    scale_window: int = 288  # residual scale window, samples
    seasons: int = 3  # robust: seasons combined by the seasonal median
    min_history: int = 12  # points before a band is produced


def anomaly_band(
    values: np.ndarray,
    algorithm: str = "basic",
    bounds: float = 2.0,
    seasonality: str | int | None = None,
    step_s: float = 300.0,
    params: AnomalyParams | None = None,
) -> AnomalyBand:
    """The anomaly band of every series in `values` ((n, T) or (T,)) with one algorithm.

    `seasonality` is hourly, daily, weekly, a season length in samples, None, or "auto" (detected
    per series from its first points; until then the series is treated as non-seasonal).
    """
    x = rl.as_2d(values)
    p = params or AnomalyParams()
    p = AnomalyParams(bounds, p.window, p.scale_window, p.seasons, p.min_history)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown anomaly algorithm {algorithm!r} ({', '.join(ALGORITHMS)})")
    fit = _basic(x, p) if algorithm == "basic" else _seasonal(x, algorithm, seasonality, step_s, p)
    band = _band(x, fit, p)
    if algorithm == "contextual":
        band.score = np.where(np.isfinite(x), 2.0 * novelty(x), np.nan)
    return band


def _seasonal(
    x: np.ndarray, algorithm: str, seasonality: str | int | None, step_s: float, p: AnomalyParams
) -> Fit:
    auto = seasonality == "auto"
    periods = _auto_periods(x, step_s) if auto else rl.period_samples(seasonality, step_s)
    if algorithm != "robust":
        return _agile(x, periods, p)
    if not auto:
        return _robust(x, int(periods), p)
    fit = (np.full(x.shape, np.nan), np.full(x.shape, np.nan), np.full(x.shape, np.nan))
    for period in np.unique(periods):  # robust's windows depend on the season: one fit per season
        used = periods == period
        rows = np.flatnonzero(used.any(axis=1))
        end = int(np.flatnonzero(used[rows].any(axis=0)).max()) + 1  # a causal fit of a prefix
        for whole, part in zip(fit, _robust(x[rows, :end], int(period), p), strict=True):
            whole[rows, :end] = np.where(used[rows, :end], part, whole[rows, :end])
    return fit


def _auto_periods(x: np.ndarray, step_s: float) -> np.ndarray:
    """Per series and point, the season in force: the one detected on the points before the last
    checkpoint passed (three hours, days or weeks of data), none before the first."""
    out = np.zeros(x.shape, np.int64)
    for name in ("hourly", "daily", "weekly"):
        need = 3 * rl.period_samples(name, step_s)
        if need < x.shape[1]:
            out[:, need:] = rl.detect_periods(x[:, :need], step_s)[:, None]
    return out


def _basic(x: np.ndarray, p: AnomalyParams) -> Fit:
    center = rl.rolling_median(x, p.window)
    spread = rl.rolling_quantile(x, p.window, 0.9) - rl.rolling_quantile(x, p.window, 0.1)
    return center, spread * IDR_TO_SIGMA, center


def _smoothed(x: np.ndarray, width: int) -> tuple[np.ndarray, int]:
    """A lagged rolling median and how many points behind `t` its window is centred."""
    return rl.rolling_median(x, width, min_periods=1), (width + 1) // 2


def _agile(x: np.ndarray, period: int | np.ndarray, p: AnomalyParams) -> Fit:
    """`period`: one season for every point, or per series and point the season in force (0: none)."""
    level, _ = _smoothed(x, max(3, p.window // 8))
    periods = np.broadcast_to(np.asarray(period, np.int64), x.shape)
    center = level
    for season in np.unique(periods[periods > 0]):
        half = max(1, min(p.window // 8, int(season) // 8))
        ref, back = _smoothed(x, 2 * half + 1)
        seasonal = rl.lag(ref, int(season) - back) + level - rl.lag(level, int(season))
        center = np.where((periods == season) & np.isfinite(seasonal), seasonal, center)
    typical = rl.rolling_median(x, p.window, min_periods=1)
    return center, _residual_scale(x, center, p.scale_window), typical


def _robust(x: np.ndarray, period: int, p: AnomalyParams) -> Fit:
    long = max(period, p.window * 2)
    trend = rl.rolling_median(x, long)
    if period <= 0:
        center = trend
    else:
        dev = x - _season_median(x, period, long, trend)
        lags = rl.lag_stack(dev, [k * period for k in range(1, p.seasons + 1)])
        center = trend + np.nan_to_num(rl.nanmedian0(lags))
    return center, _residual_scale(x, center, max(p.scale_window, long)), trend


def _season_median(x: np.ndarray, period: int, long: int, trend: np.ndarray) -> np.ndarray:
    """The median of the last season (NaN before half a season is seen); reuses `trend` if equal."""
    if long != period:
        return rl.rolling_median(x, period, min_periods=max(1, period // 2))
    return np.where(rl.rolling_count(x, period) >= max(1, period // 2), trend, np.nan)


def _residual_scale(x: np.ndarray, center: np.ndarray, window: int) -> np.ndarray:
    """A robust sigma of the past residuals: MAD-based over `window` points."""
    resid = np.abs(x - center)
    return rl.rolling_median(resid, window, min_periods=4) * MAD_TO_SIGMA


def _band(x: np.ndarray, fit: Fit, p: AnomalyParams) -> AnomalyBand:
    """The band from a fit; sigma is floored at 1e-3 of the series' typical level."""
    center, sigma, level = fit
    floor = 1e-3 * np.abs(np.nan_to_num(level)) + 1e-9
    sigma = np.maximum(np.nan_to_num(sigma, nan=0.0), floor)
    seen = np.cumsum(np.isfinite(x), axis=1)
    early = rl.lag(seen.astype(float), 1) < p.min_history
    center = np.where(early, np.nan, center)
    half = p.bounds * sigma
    with np.errstate(all="ignore"):
        score = np.abs(x - center) / half
    return AnomalyBand(center, sigma, center - half, center + half, score)
