"""The PromQL extension functions through the engine."""

import numpy as np
import pytest

import pharos.monitors.promql  # noqa: F401  (registers the functions)
from pharos.metrics.promql.engine import Engine
from pharos.metrics.promql.memory import MemoryQuerier
from pharos.metrics.promql.values import PromQLError

STEP = 300_000
DAY = 288
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def engine() -> Engine:
    q = MemoryQuerier()
    t = np.arange(8 * DAY)
    rng = np.random.default_rng(0)
    ts = T0 + t * STEP
    for i in range(12):
        vals = 100 + 20 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 1, len(t))
        if i == 5:
            vals = vals + 60
        q.add((("__name__", "load"), ("host", f"h{i}")), ts, vals)
    return Engine(q)


def end_ms(day: float) -> int:
    return T0 + int(day * DAY) * STEP


def test_band_contains_normal_points(engine: Engine) -> None:
    a, b = end_ms(7), end_ms(7.9)
    up = engine.range('anomaly_upper(load{host="h1"}, "agile", 3, "daily")', a, b, STEP).value
    lo = engine.range('anomaly_lower(load{host="h1"}, "agile", 3, "daily")', a, b, STEP).value
    x = engine.range('load{host="h1"}', a, b, STEP).value
    inside = (lo[0][2] < x[0][2]) & (x[0][2] < up[0][2])
    assert inside.mean() > 0.95
    assert up[0][0] == (("host", "h1"),)
    inst = engine.instant('anomaly_upper(load{host="h1"}, "agile", 3, "daily")', b).value
    assert inst.values[0, 0] == pytest.approx(up[0][2][-1])


def test_score_over_a_range_query_and_composition(engine: Engine) -> None:
    res = engine.range('anomaly_score(load, "basic", 2) > 1', end_ms(7), end_ms(7.2), STEP)
    assert res.result_type == "matrix"
    count = engine.range('count(anomaly_score(load, "robust", 3, "daily") > 1)', end_ms(7), end_ms(7.5), STEP)
    assert all(v.max() <= 2 for _, _, v in count.value)


def test_contextual_score_is_twice_the_novelty_of_the_inner_series(engine: Engine) -> None:
    from pharos.monitors.contextual import novelty

    a, b = end_ms(7), end_ms(7.5)
    score = engine.range('anomaly_score(load{host="h3"}, "contextual", 3)', a, b, STEP).value[0][2]
    x = engine.range('load{host="h3"}', a - 3 * 7 * 86_400_000, b, STEP).value[0][2]
    np.testing.assert_allclose(score, 2.0 * novelty(x)[0, -len(score) :])
    assert np.median(score) == 0 and score.max() < 1  # a week of the same daily pattern is learned
    for part in ("upper", "lower"):
        ctx = engine.range(f'anomaly_{part}(load{{host="h3"}}, "contextual", 3)', a, b, STEP).value[0][2]
        agile = engine.range(f'anomaly_{part}(load{{host="h3"}}, "agile", 3)', a, b, STEP).value[0][2]
        np.testing.assert_array_equal(ctx, agile)


def test_forecast_value_and_band(engine: Engine) -> None:
    t = end_ms(6)
    expr = 'forecast{}(load{{host="h2"}}, "seasonal", 3600, "daily")'
    val = engine.instant(expr.format(""), t).value.values[0, 0]
    hi = engine.instant(expr.format("_upper"), t).value.values[0, 0]
    lo = engine.instant(expr.format("_lower"), t).value.values[0, 0]
    truth = engine.instant('load{host="h2"}', t + 3_600_000).value.values[0, 0]
    assert lo < val < hi
    assert abs(val - truth) < 5
    lin = engine.instant('forecast(load{host="h2"}, "linear", 600)', t).value
    assert lin.n == 1


def test_outliers_returns_the_divergent_member(engine: Engine) -> None:
    for algorithm in ("mad", "scaled_mad", "dbscan", "scaled_dbscan"):
        res = engine.range(f'outliers(load, "{algorithm}")', end_ms(7), end_ms(7.5), STEP)
        assert [ls for ls, _, _ in res.value] == [(("__name__", "load"), ("host", "h5"))]


def test_errors_and_plain_promql_still_parse(engine: Engine) -> None:
    with pytest.raises(PromQLError):
        engine.instant('anomaly_upper(load, "nope", 2)', end_ms(7))
    assert engine.instant("sum(rate(load[5m]))", end_ms(7)).result_type == "vector"
