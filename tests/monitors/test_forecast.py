"""Forecasts: no look-ahead, linear trends, seasonal paths, bands that cover."""

import numpy as np
import pytest

from pharos.monitors.forecast import forecast_at, forecast_path

DAY = 288


def series(n: int = 6 * DAY, seed: int = 0, slope: float = 0.01) -> np.ndarray:
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 1, n)
    return 100 + 20 * np.sin(2 * np.pi * t / DAY) + slope * t + noise


@pytest.mark.parametrize(
    ("algorithm", "model"), [("linear", "reactive"), ("linear", "robust"), ("seasonal", "")]
)
def test_forecast_at_sees_only_the_past(algorithm: str, model: str) -> None:
    x = series()
    full = forecast_at(x, 12, algorithm, model or "reactive")
    part = forecast_at(x[: 4 * DAY], 12, algorithm, model or "reactive")
    np.testing.assert_allclose(full.value[:, : 4 * DAY], part.value, equal_nan=True)


@pytest.mark.parametrize("model", ["reactive", "robust"])
def test_linear_follows_a_trend(model: str) -> None:
    t = np.arange(1000, dtype=float)
    x = 5 + 0.5 * t + np.random.default_rng(2).normal(0, 0.5, 1000)
    path = forecast_path(x, 50, "linear", model)
    np.testing.assert_allclose(path.value, 5 + 0.5 * np.arange(1000, 1050), atol=3)
    assert (path.upper > path.value).all() and (path.lower < path.value).all()


def test_seasonal_path_beats_seasonal_naive_and_bands_cover() -> None:
    x = series(8 * DAY, slope=0.0)
    hist, future = x[: 7 * DAY], x[7 * DAY :]
    path = forecast_path(hist, DAY, "seasonal", seasonality="daily")
    naive = hist[-DAY:]
    assert np.mean(np.abs(path.value - future)) < np.mean(np.abs(naive - future))
    inside = (future >= path.lower) & (future <= path.upper)
    assert inside.mean() > 0.9


def test_seasonal_needs_a_season() -> None:
    with pytest.raises(ValueError):
        forecast_at(series(), 3, "seasonal", seasonality=None)
    with pytest.raises(ValueError):
        forecast_at(series(), 3, "cubic")


def square_wave_with_flat_day(days: int = 10, seed: int = 3) -> np.ndarray:
    """A two-level daily square wave with noise whose third-to-last day is flat in between."""
    t = np.arange(days * DAY)
    x = np.where(t % DAY < DAY // 2, -20.0, 80.0) + np.random.default_rng(seed).normal(0, 1, t.size)
    x[(days - 3) * DAY : (days - 2) * DAY] = 40.0
    return x


def test_seasonal_path_ignores_an_anomalous_season_and_keeps_a_two_level_shape() -> None:
    x = square_wave_with_flat_day()
    hist, future = x[: -DAY // 2], x[-DAY // 2 :]
    path = forecast_path(hist, len(future), "seasonal", seasonality="daily")
    assert np.mean(np.abs(path.value - future)) < 2.0


def test_seasonal_at_ignores_an_anomalous_season() -> None:
    x = square_wave_with_flat_day()
    value = forecast_at(x, 12, "seasonal", seasonality="daily").value[0]
    err = np.abs(value[-DAY - 12 : -12] - x[-DAY:])
    assert np.median(err) < 2.0
