"""Anomaly bands: no look-ahead, seasonality, level shifts, spikes, many series at once."""

import numpy as np
import pytest

from pharos.monitors import rolling as rl
from pharos.monitors.anomaly import ALGORITHMS, AnomalyParams, anomaly_band
from pharos.monitors.detect import DETECTORS, level_shifts, nab_scores

STEP = 300.0
DAY = 288


def seasonal(n_days: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n_days * DAY)
    return 100 + 20 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 1, len(t))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_band_sees_only_the_past(algorithm: str) -> None:
    x = seasonal()
    full = anomaly_band(x, algorithm, 3.0, "daily", STEP)
    cut = 4 * DAY + 17
    part = anomaly_band(x[:cut], algorithm, 3.0, "daily", STEP)
    np.testing.assert_allclose(full.upper[:, :cut], part.upper, equal_nan=True)
    np.testing.assert_allclose(full.lower[:, :cut], part.lower, equal_nan=True)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_spike_is_outside_the_band(algorithm: str) -> None:
    x = seasonal()
    x[5 * DAY + 100] += 40
    band = anomaly_band(x, algorithm, 3.0, "daily", STEP)
    assert band.score[0, 5 * DAY + 100] > 1
    assert x[5 * DAY + 100] > band.upper[0, 5 * DAY + 100]
    normal = band.score[0, 2 * DAY : 5 * DAY]
    assert np.mean(normal > 1) < 0.05


@pytest.mark.parametrize("algorithm", ["agile", "robust"])
def test_seasonal_band_tracks_the_season(algorithm: str) -> None:
    x = seasonal()
    band = anomaly_band(x, algorithm, 3.0, "daily", STEP)
    err = np.abs(band.center[0, 4 * DAY :] - (x[4 * DAY :]))
    assert np.median(err) < 3.0
    assert np.mean(band.score[0, 4 * DAY :] > 1) < 0.02


def test_agile_follows_a_level_shift_faster_than_robust() -> None:
    x = seasonal()
    x[4 * DAY :] += 30
    agile = anomaly_band(x, "agile", 3.0, "daily", STEP)
    robust = anomaly_band(x, "robust", 3.0, "daily", STEP)
    after = slice(4 * DAY + 24, 4 * DAY + 96)
    assert np.mean(agile.score[0, after] > 1) < 0.2
    assert np.mean(robust.score[0, after] > 1) > 0.8


def test_robust_is_stable_through_a_long_anomaly() -> None:
    x = seasonal(8)
    x[6 * DAY : 6 * DAY + 60] += 25  # five hours high
    robust = anomaly_band(x, "robust", 3.0, "daily", STEP)
    assert np.mean(robust.score[0, 6 * DAY + 10 : 6 * DAY + 60] > 1) > 0.9


def test_auto_seasonality_matches_daily() -> None:
    x = seasonal(8)
    assert rl.detect_period(x[: 3 * DAY], STEP) == DAY
    auto = anomaly_band(x, "agile", 3.0, "auto", STEP)
    daily = anomaly_band(x, "agile", 3.0, "daily", STEP)
    plain = anomaly_band(x, "agile", 3.0, None, STEP)
    seen = 3 * DAY  # the season is used once three of them were seen, not before
    np.testing.assert_allclose(auto.upper[:, :seen], plain.upper[:, :seen], equal_nan=True)
    np.testing.assert_allclose(auto.center[:, seen:], daily.center[:, seen:], equal_nan=True)
    settled = seen + AnomalyParams().scale_window  # the scale then holds seasonal residuals only
    np.testing.assert_allclose(auto.upper[:, settled:], daily.upper[:, settled:], equal_nan=True)


def test_no_seasonality_detected_in_noise() -> None:
    rng = np.random.default_rng(1)
    assert rl.detect_period(rng.normal(size=4 * DAY), STEP) == 0


def test_many_series_at_once_equal_one_at_a_time() -> None:
    xs = np.stack([seasonal(4, seed) for seed in range(5)])
    xs[2, :100] = np.nan
    many = anomaly_band(xs, "robust", 2.0, "daily", STEP)
    one = anomaly_band(xs[3], "robust", 2.0, "daily", STEP)
    np.testing.assert_allclose(many.upper[3], one.upper[0], equal_nan=True)
    assert many.upper.shape == xs.shape


def test_unknown_names_are_errors() -> None:
    with pytest.raises(ValueError):
        anomaly_band(seasonal(1), "magic")
    with pytest.raises(ValueError):
        anomaly_band(seasonal(1), "agile", seasonality="monthly")


@pytest.mark.parametrize("name", list(DETECTORS))
def test_appending_points_never_changes_earlier_detector_scores(name: str) -> None:
    x = seasonal(8, seed=2)
    x[7 * DAY] += 40
    for cut in (30, 2 * DAY, 3 * DAY + 1, 5 * DAY):  # before and after each season checkpoint
        np.testing.assert_array_equal(nab_scores(x, STEP, name)[:cut], nab_scores(x[:cut], STEP, name))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_auto_season_is_used_only_after_it_was_seen(algorithm: str) -> None:
    x = seasonal(8, seed=3)
    full = anomaly_band(x, algorithm, 3.0, "auto", STEP)
    for cut in (2 * DAY, 3 * DAY + 5):
        part = anomaly_band(x[:cut], algorithm, 3.0, "auto", STEP)
        np.testing.assert_array_equal(full.center[:, :cut], part.center)
        np.testing.assert_array_equal(full.score[:, :cut], part.score)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_detector_scores_are_probabilities_and_fire_on_a_spike(name: str) -> None:
    x = seasonal(6)
    x[5 * DAY] += 60
    s = nab_scores(x, STEP, name)
    assert s.min() >= 0 and s.max() <= 1
    assert s[5 * DAY] == s[4 * DAY :].max()


def test_level_shifts_see_a_step_at_every_span_and_only_the_past() -> None:
    x = np.random.default_rng(6).normal(0, 1, 3000)
    x[2000:] += 4  # a sustained step of 4 sigmas
    spans = (3, 9, 27)
    full = level_shifts(x, spans, 1000)
    part = level_shifts(x[:2010], spans, 1000)
    for n, f, p in zip(spans, full, part, strict=True):
        np.testing.assert_allclose(f[:, :2010], p, equal_nan=True)
        assert np.nanmax(f[0, 1000:2000]) < 3 and f[0, 2000 + n] > 3.5


@pytest.mark.parametrize("name", list(DETECTORS))
def test_detector_fires_on_a_level_shift(name: str) -> None:
    x = seasonal(6)
    x[5 * DAY :] += 15
    s = nab_scores(x, STEP, name)
    assert s[5 * DAY : 5 * DAY + 30].max() == s[4 * DAY :].max() > 0


def test_detect_periods_of_many_rows_equal_one_row_at_a_time() -> None:
    rng = np.random.default_rng(4)
    rows = np.stack([seasonal(4, seed=1)[: 4 * DAY], rng.normal(size=4 * DAY), seasonal(4, seed=2)])
    rows[2, 100:150] = np.nan  # a gap: that row takes the one-by-one path
    got = rl.detect_periods(rows, STEP)
    assert list(got) == [rl.detect_period(r, STEP) for r in rows] == [DAY, 0, DAY]


def test_nanmedian0_equals_numpy_nanmedian() -> None:
    rng = np.random.default_rng(5)
    for depth in (1, 2, 3, 6):
        stack = rng.normal(size=(depth, 20, 30))
        stack[rng.random(stack.shape) < 0.3] = np.nan
        stack[:, 0, 0] = np.nan
        with rl.quiet():
            np.testing.assert_allclose(rl.nanmedian0(stack), np.nanmedian(stack, axis=0), equal_nan=True)


def test_rolling_count_counts_finite_values_of_previous_columns() -> None:
    x = np.array([[1.0, np.nan, 2.0, 3.0, np.nan, 4.0]])
    np.testing.assert_array_equal(rl.rolling_count(x, 3)[0, 1:], [1, 1, 2, 2, 2])
    assert np.isnan(rl.rolling_count(x, 3)[0, 0])
