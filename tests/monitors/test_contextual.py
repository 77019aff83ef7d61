"""Contextual novelty: a brute-force reference, no look-ahead, re-reading the past at a new range."""

import numpy as np
import pytest

from pharos.monitors import contextual
from pharos.monitors.anomaly import anomaly_band
from pharos.monitors.contextual import novelty
from pharos.monitors.detect import contextual_scores, nab_scores


def reference(x: np.ndarray, levels: int, orders: int) -> np.ndarray:
    """Point by point: bins over the range of the earlier points, every earlier point re-binned."""
    out = np.ones(len(x))
    for t in range(1, len(x)):
        lo, hi = x[:t].min(), x[:t].max()
        step = (hi - lo) / levels if hi > lo else 1.0
        sym = [
            0 if v < lo else levels + 1 if v > hi else min(int((v - lo) // step), levels - 1) + 1
            for v in x[: t + 1]
        ]
        seen = broken = 0
        for k in range(min(orders, t) + 1):
            past = [(tuple(sym[j - k : j]), sym[j]) for j in range(k, t)]
            ctx = tuple(sym[t - k : t])
            if any(c == ctx for c, _ in past):
                seen += 1
                broken += (ctx, sym[t]) not in past
        out[t] = broken / seen if seen else 1.0
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_novelty_equals_the_point_by_point_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 1, 120).cumsum(), 1)
    x[90] += 8
    for levels in (3, 8):
        np.testing.assert_allclose(novelty(x, (levels,), 3)[0], reference(x, levels, 3))


def test_appending_points_never_changes_earlier_scores() -> None:
    rng = np.random.default_rng(3)
    x = np.sin(np.arange(3000) / 15) + rng.normal(0, 0.1, 3000)
    x[[1200, 2100]] += [3, -4]  # new extremes after the cut re-bin the past, yet not its scores
    cut = 1500
    np.testing.assert_array_equal(novelty(x)[:, :cut], novelty(x[:cut]))
    np.testing.assert_array_equal(
        nab_scores(x, 300.0, "contextual")[:cut], nab_scores(x[:cut], 300.0, "contextual")
    )


def test_a_learned_pattern_is_not_novel_and_a_new_one_is() -> None:
    x = np.tile([0.0, 1.0, 2.0, 3.0, 2.0, 1.0], 50)
    x[200] = 3.0  # 1 -> 3: both values are known, the transition is not
    nov = novelty(x)[0]
    assert nov[30:200].max() == 0.0
    assert nov[200] == pytest.approx(0.8)  # every context but the empty one is broken
    assert nov[220:].max() == 0.0


def test_a_new_extreme_is_novel_and_the_pattern_is_relearned_at_the_new_range() -> None:
    x = np.tile([0.0, 1.0, 2.0, 3.0, 2.0, 1.0], 100)
    x[300] = 30.0
    nov = novelty(x)[0]
    assert nov[300] == 1.0
    assert nov[320:].max() == 0.0  # the history re-binned at the new range still knows the pattern


def test_many_series_at_once_with_gaps_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    rows = rng.normal(0, 1, (3, 400)).cumsum(axis=1)
    rows[1, 50:60] = np.nan
    got = novelty(rows)
    for i, row in enumerate(rows):
        ok = np.isfinite(row)
        np.testing.assert_allclose(got[i, ok], novelty(row[ok])[0])
        assert np.isnan(got[i, ~ok]).all()


def test_rest_silences_the_points_after_a_new_pattern() -> None:
    x = np.tile([0.0, 1.0, 2.0, 3.0, 2.0, 1.0], 100)
    x[300], x[310] = 30.0, -30.0  # two new extremes 10 points apart
    s = contextual_scores(x, 30)[0]
    assert s[300] == 1.0 and s[310] == 0.0
    assert contextual_scores(x, 5)[0][310] == 1.0


def test_contextual_band_is_agiles_and_its_score_is_twice_the_novelty() -> None:
    rng = np.random.default_rng(7)
    x = 10 + np.sin(np.arange(2000) / 20) + rng.normal(0, 0.1, 2000)
    ctx, agile = anomaly_band(x, "contextual", 3.0, "auto"), anomaly_band(x, "agile", 3.0, "auto")
    np.testing.assert_array_equal(ctx.upper, agile.upper)
    np.testing.assert_allclose(ctx.score, 2.0 * novelty(x))


def test_epochs_follow_range_growth() -> None:
    x = np.array([1.0, 1.0, 2.0, 2.0, 5.0, 4.0, 5.2])
    spans = contextual._epochs(x, 0.0)
    assert [(a, b) for a, b, _, _ in spans] == [(1, 3), (3, 5), (5, 7)]
    assert [(a, b) for a, b, _, _ in contextual._epochs(x, 0.1)] == [(1, 3), (3, 5), (5, 7)]
    assert spans[-1][2:] == (1.0, 5.0)
