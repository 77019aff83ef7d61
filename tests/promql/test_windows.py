"""The vectorised window code against naive per-window reference implementations."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pharos.metrics.model import make_labels
from pharos.metrics.promql import windows
from pharos.metrics.promql.engine import Engine
from pharos.metrics.promql.memory import MemoryQuerier
from pharos.metrics.promql.windows import (
    avg_windows,
    compensated_sum_windows,
    kahan_inc,
    kahan_sum_windows,
    reduce_windows,
    regression_windows,
    variance_windows,
    well_conditioned,
    window_bounds,
)

series_st = st.lists(
    st.lists(st.tuples(st.integers(0, 200), st.floats(-1e6, 1e6)), min_size=0, max_size=30),
    min_size=1,
    max_size=4,
)


def _flat(series: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ts_parts, val_parts = [], []
    for s in series:
        d = dict(s)
        keys = sorted(d)
        ts_parts.append(np.array([k * 1000 for k in keys], np.int64))
        val_parts.append(np.array([d[k] for k in keys], float))
    offsets = np.concatenate(([0], np.cumsum([len(t) for t in ts_parts]))).astype(np.int64)
    return np.concatenate(ts_parts), np.concatenate(val_parts), offsets


def _naive_windows(ts, vals, offsets, ends, rng):
    out = []
    for j in range(len(offsets) - 1):
        t = ts[offsets[j] : offsets[j + 1]]
        v = vals[offsets[j] : offsets[j + 1]]
        out.append([v[(t > e - rng) & (t <= e)] for e in ends])
    return out


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


@settings(max_examples=150, deadline=None)
@given(series_st, st.integers(1, 60), st.integers(-10, 220), st.integers(1, 20))
def test_window_reductions_match_naive(series, rng_s, start_s, step_s) -> None:
    ts, vals, offsets = _flat(series)
    ends = np.arange(start_s, start_s + 15 * step_s, step_s, dtype=np.int64) * 1000
    rng = rng_s * 1000
    lo, hi = window_bounds(ts, offsets, ends, rng)
    naive = _naive_windows(ts, vals, offsets, ends, rng)
    sums = kahan_sum_windows(vals, lo, hi)
    avgs = avg_windows(vals, lo, hi)
    mins = reduce_windows(np.fmin, vals, lo, hi)
    maxs = reduce_windows(np.fmax, vals, lo, hi)
    var = variance_windows(vals, lo, hi)
    for j, row in enumerate(naive):
        for k, w in enumerate(row):
            assert hi[j, k] - lo[j, k] == len(w)
            if len(w) == 0:
                continue
            assert _close(sums[j, k], math.fsum(w))
            assert _close(avgs[j, k], math.fsum(w) / len(w))
            assert mins[j, k] == w.min() and maxs[j, k] == w.max()
            assert math.isclose(var[j, k], float(np.var(w)), rel_tol=1e-6, abs_tol=1e-3)


def _naive_rate(t: np.ndarray, v: np.ndarray, end: int, rng: int) -> float | None:
    """Prometheus's extrapolated rate for one window, written out plainly."""
    if len(v) < 2:
        return None
    result = v[-1] - v[0]
    for a, b in itertools.pairwise(v):
        if b < a:
            result += a
    to_start = (t[0] - (end - rng)) / 1000
    to_end = (end - t[-1]) / 1000
    sampled = (t[-1] - t[0]) / 1000
    avg = sampled / (len(v) - 1)
    if to_start >= avg * 1.1:
        to_start = avg / 2
    if result > 0 and v[0] >= 0:
        to_start = min(to_start, sampled * (v[0] / result))
    if to_end >= avg * 1.1:
        to_end = avg / 2
    return result * (sampled + to_start + to_end) / sampled / (rng / 1000)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 100), st.floats(0, 1000)), min_size=0, max_size=40),
    st.integers(5, 120),
    st.integers(0, 20),
)
def test_range_query_rate_matches_naive(samples, rng_s, step_s) -> None:
    d = {k * 1000: v for k, v in samples}
    t = np.array(sorted(d), np.int64)
    v = np.array([d[k] for k in sorted(d)])
    q = MemoryQuerier()
    q.add(make_labels({"__name__": "c"}), t, v)
    step = (step_s + 1) * 1000
    res = Engine(q).range(f"rate(c[{rng_s}s])", 0, 100_000, step)
    got = {int(a): float(b) for _, ts, vals in res.value for a, b in zip(ts, vals, strict=True)}
    for end in range(0, 100_001, step):
        m = (t > end - rng_s * 1000) & (t <= end)
        want = _naive_rate(t[m], v[m], end, rng_s * 1000)
        if want is None:
            assert end not in got
        else:
            assert _close(got[end], want)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=8), st.integers(0, 10))
def test_sum_aggregation_over_grid_matches_naive(values, step_s) -> None:
    q = MemoryQuerier()
    for i, x in enumerate(values):
        ts = np.array([0, 60_000], np.int64)
        q.add(make_labels({"__name__": "g", "i": str(i)}), ts, np.array([x, 2 * x]))
    res = Engine(q).range("sum(g)", 0, 120_000, (step_s + 1) * 1000)
    [(_, ts, vals)] = res.value
    for a, b in zip(ts, vals, strict=True):
        factor = 1 if a < 60_000 else 2
        assert _close(float(b), math.fsum(values) * factor)


@settings(max_examples=60, deadline=None)
@given(series_st, st.integers(-50, 150), st.integers(1, 40), st.integers(1, 12), st.integers(0, 60))
def test_window_bounds_regular_grid_matches_searchsorted(
    series: list[list[tuple[int, float]]], first: int, step: int, steps: int, range_s: int
) -> None:
    ts, _, offsets = _flat(series)
    ends = (first + step * np.arange(steps)) * 1000
    lo, hi = window_bounds(ts, offsets, ends, range_s * 1000)  # the histogram path (regular grid)
    irregular = np.append(ends[:1], ends)  # a repeated first step: not a regular grid
    lo2, hi2 = window_bounds(ts, offsets, irregular, range_s * 1000)
    assert np.array_equal(lo, lo2[:, 1:]) and np.array_equal(hi, hi2[:, 1:])


def _sequential_neumaier(values: list[float], from_zero: bool) -> float:
    """`kahan_inc` applied value by value, the way Prometheus sums: the reference."""
    s, c = (0.0, 0.0) if from_zero else (values[0], 0.0)
    for x in values if from_zero else values[1:]:
        t, c2 = kahan_inc(np.array([x]), np.array([s]), np.array([c]))
        s, c = float(t[0]), float(c2[0])
    return s if math.isinf(s) else s + c


special_st = st.sampled_from([0.0, -0.0, 1e100, -1e100, 1.0, 0.1, 2.0**53, float("inf"), float("-inf")])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(special_st, st.floats(allow_nan=False)), min_size=1, max_size=40),
    st.lists(st.tuples(st.integers(0, 39), st.integers(0, 40)), min_size=1, max_size=6),
)
def test_compensated_sums_are_bit_exact_sequential_neumaier(values: list[float], windows: list) -> None:
    vals = np.array(values)
    lo = np.array([[min(a, len(values))] for a, _ in windows]).T
    hi = np.minimum(lo + np.array([[n for _, n in windows]]), len(values))
    first = compensated_sum_windows(vals, lo, hi)
    zero = None if well_conditioned(vals) else kahan_sum_windows(vals, lo, hi)
    for k in range(lo.shape[1]):
        w = values[lo[0, k] : hi[0, k]]
        if not w:
            assert math.isnan(first[0, k])
            continue
        want = _sequential_neumaier(w, from_zero=False)
        assert np.array([first[0, k]]).view(np.uint64) == np.array([want]).view(np.uint64) or (
            math.isnan(want) and math.isnan(first[0, k])
        )
        if zero is not None:
            want0 = _sequential_neumaier(w, from_zero=True)
            assert np.array([zero[0, k]]).view(np.uint64) == np.array([want0]).view(np.uint64) or (
                math.isnan(want0) and math.isnan(zero[0, k])
            )


def test_windows_split_into_chunks_give_the_same_sums(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    vals = rng.normal(0, 1e6, 500) * rng.choice([1.0, 1e-9], 500)
    lo = rng.integers(0, 400, (3, 40))
    hi = lo + rng.integers(0, 100, (3, 40))
    ts = np.arange(500, dtype=np.int64) * 15_000
    whole = (compensated_sum_windows(vals, lo, hi), regression_windows(ts, vals, lo, hi, ts[lo]))
    monkeypatch.setattr(windows, "_DENSE_CELLS", 64)  # a few windows per chunk
    split = (compensated_sum_windows(vals, lo, hi), regression_windows(ts, vals, lo, hi, ts[lo]))
    assert np.array_equal(whole[0], split[0], equal_nan=True)
    assert all(np.array_equal(a, b, equal_nan=True) for a, b in zip(whole[1], split[1], strict=True))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.floats(-1e6, 1e6)), min_size=2, max_size=40))
def test_regression_matches_least_squares(samples: list[tuple[int, float]]) -> None:
    d = dict(samples)
    ts = np.array(sorted(d), np.int64) * 1000
    vals = np.array([d[k] for k in sorted(d)])
    assume(len(ts) >= 2)
    lo, hi = np.array([[0]]), np.array([[len(ts)]])
    slope, intercept = regression_windows(ts, vals, lo, hi, np.array([[0]]))
    x = ts / 1e3
    want_slope, want_icpt = np.polyfit(x, vals, 1)
    scale = max(1.0, float(np.abs(vals).max()))
    assert abs(slope[0, 0] - want_slope) <= 1e-6 * scale
    assert abs(intercept[0, 0] - want_icpt) <= 1e-6 * scale * max(1.0, float(x.max()))


@settings(max_examples=60, deadline=None)
@given(series_st, st.integers(-10, 220), st.integers(0, 60))
def test_window_bounds_of_one_step(series: list[list[tuple[int, float]]], end_s: int, range_s: int) -> None:
    ts, vals, offsets = _flat(series)
    lo, hi = window_bounds(ts, offsets, np.array([end_s * 1000]), range_s * 1000)
    for j, [w] in enumerate(_naive_windows(ts, vals, offsets, [end_s * 1000], range_s * 1000)):
        assert hi[j, 0] - lo[j, 0] == len(w)
        assert vals[lo[j, 0] : hi[j, 0]].tolist() == w.tolist()


def _prometheus_regression(t: np.ndarray, y: np.ndarray, icpt: int) -> tuple[float, float]:
    """Prometheus' linearRegression over one window: the reference."""
    if (y == y[0]).all():
        return (math.nan, math.nan) if math.isinf(y[0]) else (0.0, float(y[0]))
    x = (t - icpt) / 1e3
    n = float(len(y))
    sx, sy, sxy, sx2 = (_sequential_neumaier(list(v), from_zero=True) for v in (x, y, x * y, x * x))
    slope = (sxy - sx * sy / n) / (sx2 - sx * sx / n)
    return slope, sy / n - slope * sx / n


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(["flat", "walk", "offset", "steps", "mixed"]),
    st.integers(0, 2**32),
    st.integers(2, 60),
    st.sampled_from([1_000, 15_000, 60_000]),
)
def test_regression_over_overlapping_windows_matches_prometheus(
    kind: str, seed: int, rng_s: int, step_ms: int
) -> None:
    rng = np.random.default_rng(seed)
    ts_parts, val_parts = [], []
    for _ in range(3):
        n = int(rng.integers(0, 80))
        ts_parts.append(np.sort(rng.choice(np.arange(0, 600_000, 1000), n, replace=False)).astype(np.int64))
        noise = rng.normal(0, 1, n)
        val_parts.append(
            {
                "flat": np.round(noise) * 0 + 7.0,
                "walk": np.abs(np.cumsum(noise * 3)),
                "offset": 1e9 + noise * 1e3,  # Prometheus' own sums lose digits: must follow them
                "steps": np.floor(np.cumsum(np.abs(noise)) / 4),
                "mixed": noise * 1e6 * rng.choice([1.0, 1e-9], n),
            }[kind]
        )
    offsets = np.concatenate(([0], np.cumsum([len(t) for t in ts_parts]))).astype(np.int64)
    ts, vals = np.concatenate(ts_parts), np.concatenate(val_parts)
    ends = np.arange(0, 650_000, step_ms, dtype=np.int64)
    lo, hi = window_bounds(ts, offsets, ends, rng_s * 1000)
    slope, intercept = regression_windows(ts, vals, lo, hi, ends[None, :], offsets)
    for j, k in zip(*np.nonzero(hi - lo >= 2), strict=True):
        want = _prometheus_regression(ts[lo[j, k] : hi[j, k]], vals[lo[j, k] : hi[j, k]], int(ends[k]))
        assert _close(slope[j, k], want[0]) and _close(intercept[j, k], want[1]), (j, k, want)
