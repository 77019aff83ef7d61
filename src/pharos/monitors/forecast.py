"""Forecasts with confidence bands: `linear` (reactive or robust) and `seasonal`.

`forecast_at(values, horizon)` predicts, at every point t and from points <= t only, the value at
t + horizon, for many series at once (what a PromQL function or a monitor evaluates each step).
`forecast_path(history, steps)` predicts the next `steps` points of one series after its end.
Bands are `value +/- bounds * sigma`, sigma being the spread of the model's own past errors at the
same horizon (so they widen where the model has been wrong before).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pharos.monitors import rolling as rl

ALGORITHMS = ("linear", "seasonal")
MODELS = ("reactive", "robust")
SEASONS_AT = 5  # seasons in the rolling seasonal profile of `forecast_at`


@dataclass
class Forecast:
    """Predicted value and band, each shaped like the input."""

    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _linear_fit(x: np.ndarray, window: int, model: str) -> tuple[np.ndarray, np.ndarray]:
    """Per point, (level at the point, slope per sample) fitted to the last `window` points."""
    if model == "robust":
        half = max(2, window // 2)
        recent = _med_incl(x, half)
        older = rl.lag(recent, half)
        slope = (recent - older) / half
        return recent + slope * (half - 1) / 2.0, slope
    t = np.broadcast_to(np.arange(x.shape[1], dtype=np.float64), x.shape)
    f = rl.frame
    mx = f(x).rolling(window, min_periods=2).mean().to_numpy().T
    mt = f(np.where(np.isnan(x), np.nan, t)).rolling(window, min_periods=2).mean().to_numpy().T
    mtx = f(t * x).rolling(window, min_periods=2).mean().to_numpy().T
    mtt = f(np.where(np.isnan(x), np.nan, t * t)).rolling(window, min_periods=2).mean().to_numpy().T
    with np.errstate(all="ignore"):
        slope = (mtx - mt * mx) / (mtt - mt * mt)
    slope = np.nan_to_num(slope)
    return mx + slope * (t - mt), slope


def _med_incl(x: np.ndarray, window: int) -> np.ndarray:
    """Median of the last `window` points including the current one."""
    return rl.frame(x).rolling(window, min_periods=2).median().to_numpy().T


def _seasonal_point(x: np.ndarray, horizon: int, period: int, seasons: int) -> np.ndarray:
    """The seasonal profile at t + horizon (from points <= t) moved to the last season's level.

    As `_profile_path`, in rolling form: the profile is the median of the same and neighbouring
    phases in the last `seasons` seasons that are strictly past, and the level shift the median
    over the last season of each point's deviation from its own profile.
    """
    with np.errstate(all="ignore"), rl.quiet():
        shift = _med_incl(x - _profile_at(x, 0, period, seasons), period)
        return _profile_at(x, horizon, period, seasons) + np.nan_to_num(shift)


def _profile_at(x: np.ndarray, ahead: int, period: int, seasons: int) -> np.ndarray:
    """Per t, the median of x at phase t + ahead (and its neighbours) over past seasons <= t."""
    k0 = -(-(ahead + 1) // period)  # the first season whose phase + 1 lies at or before t
    lags = [k * period - ahead - j for k in range(k0, k0 + seasons) for j in (-1, 0, 1)]
    return rl.nanmedian0(rl.lag_stack(x, lags))


def forecast_at(
    values: np.ndarray,
    horizon: int,
    algorithm: str = "linear",
    model: str = "reactive",
    seasonality: str | int | None = "daily",
    step_s: float = 300.0,
    bounds: float = 2.0,
    window: int | None = None,
) -> Forecast:
    """At every point t, the forecast for t + horizon (samples) from points <= t."""
    x = rl.as_2d(values)
    horizon = max(1, int(horizon))
    if algorithm == "linear":
        if model not in MODELS:
            raise ValueError(f"unknown linear model {model!r} (reactive, robust)")
        w = window or (48 if model == "reactive" else 288)
        level, slope = _linear_fit(x, w, model)
        value = level + slope * horizon
    elif algorithm == "seasonal":
        period = rl.period_samples(seasonality, step_s)
        if period <= 0:
            raise ValueError("seasonal forecasts need a seasonality (hourly, daily, weekly)")
        value = _seasonal_point(x, horizon, period, SEASONS_AT)
    else:
        raise ValueError(f"unknown forecast algorithm {algorithm!r} (linear, seasonal)")
    sigma = _error_scale(x, value, horizon, window or 288)
    return Forecast(value, value - bounds * sigma, value + bounds * sigma)


def _error_scale(x: np.ndarray, value: np.ndarray, horizon: int, window: int) -> np.ndarray:
    """Robust spread of the errors of forecasts made `horizon` points ago and now resolved."""
    err = np.abs(x - rl.lag(value, horizon))
    sigma = _med_incl(err, window)
    return np.nan_to_num(sigma * 1.4826, nan=0.0)


def forecast_path(
    history: np.ndarray,
    steps: int,
    algorithm: str = "seasonal",
    model: str = "reactive",
    seasonality: str | int | None = "daily",
    step_s: float = 300.0,
    bounds: float = 2.0,
    seasons: int = 40,
) -> Forecast:
    """The next `steps` values of one series after the end of `history`.

    `seasonal`: the median profile of the last `seasons` seasons moved to the last season's level
    (see `_profile_path`). `linear`: the fitted level plus slope times the horizon. Bands widen
    with the square root of the horizon (in seasons for `seasonal`).
    """
    x = np.asarray(history, np.float64)
    h = np.arange(1, steps + 1)
    if algorithm == "seasonal":
        period = rl.period_samples(seasonality, step_s)
        if period <= 0 or len(x) < period:
            raise ValueError("seasonal forecasts need a seasonality and one season of history")
        value, unit = _profile_path(x, period, seasons, steps), period
    else:
        level, slope = _linear_fit(rl.as_2d(x), 48 if model == "reactive" else 288, model)
        value, unit = level[0, -1] + slope[0, -1] * h, 1
    past = forecast_at(x, unit, algorithm, model, seasonality, step_s).value
    sigma = float(_error_scale(rl.as_2d(x), past, unit, 288)[0, -1])
    spread = bounds * sigma * np.sqrt(np.maximum(1.0, h / unit))
    return Forecast(value, value - spread, value + spread)


def _profile_path(x: np.ndarray, period: int, seasons: int, steps: int) -> np.ndarray:
    """The seasonal profile of the last complete seasons, moved to the last season's level.

    The profile at each phase is the median over the last `seasons` seasons of that phase and its
    two neighbours (robust to anomalous seasons and to a sample of phase jitter); the level shift
    is the median of the last season's deviations from it (a mean or median of raw values would
    flip between the modes of a two-level season).
    """
    k = max(1, min(seasons, len(x) // period))
    block = x[len(x) - k * period :].reshape(k, period)
    pooled = np.concatenate([np.roll(block, s, axis=1) for s in (-1, 0, 1)])
    with rl.quiet():
        profile = np.nanmedian(pooled, axis=0)
        shift = np.nan_to_num(np.nanmedian(block[-1] - profile))
    return np.resize(profile + shift, steps)
