"""sum() is Kahan-compensated in input order (Prometheus 3.x), so topk over near-tied sums picks
what Prometheus 3.x picks (the benchmark's topk range-query difference against 2.42)."""

from __future__ import annotations

import numpy as np

from pharos.metrics.model import make_labels
from pharos.metrics.promql.engine import Engine
from pharos.metrics.promql.memory import MemoryQuerier

# Six per-series rates of one instance from the benchmark (integer increases / 285 s); their
# exact sum is 43.2. Plain left-to-right addition (Prometheus 2.42) rounds it to 43.2, the
# compensated sum of Prometheus 3.x to 43.199999999999996.
RATES = [
    20.266666666666666,
    20.336842105263155,
    0.950877192982456,
    1.03859649122807,
    0.31228070175438594,
    0.29473684210526313,
]


def _querier() -> MemoryQuerier:
    q = MemoryQuerier()
    ts = np.array([0, 60_000], np.int64)
    for i, v in enumerate(RATES):
        q.add(make_labels([("__name__", "r"), ("instance", "a"), ("n", str(i))]), ts, np.full(2, v))
    q.add(make_labels([("__name__", "r"), ("instance", "b"), ("n", "0")]), ts, np.full(2, 43.2))
    return q


def test_sum_is_compensated_in_input_order() -> None:
    res = Engine(_querier()).instant('sum(r{instance="a"})', 60_000)
    assert res.value.values[0, 0] == 43.199999999999996  # type: ignore[union-attr]
    plain = 0.0
    for v in RATES:
        plain += v
    assert plain == 43.2


def test_topk_over_near_tied_sums_instant_and_range() -> None:
    eng = Engine(_querier())
    inst = eng.instant("topk(1, sum by (instance) (r))", 60_000)
    assert [dict(ls)["instance"] for ls in inst.value.labels] == ["b"]  # type: ignore[union-attr]
    rng = eng.range("topk(1, sum by (instance) (r))", 0, 60_000, 15_000)
    assert [(dict(ls)["instance"], len(ts)) for ls, ts, _ in rng.value] == [("b", 5)]  # type: ignore[union-attr]
    low = eng.range("bottomk(1, sum by (instance) (r))", 0, 60_000, 15_000)
    assert [dict(ls)["instance"] for ls, _, _ in low.value] == ["a"]  # type: ignore[union-attr]


def test_sum_of_extremes_keeps_small_terms() -> None:
    q = MemoryQuerier()
    for i, v in enumerate([2.0, 8.0, 1e100, -1e100]):
        q.add(make_labels([("__name__", "x"), ("p", str(i))]), np.array([0], np.int64), np.array([v]))
    res = Engine(q).instant("sum(x)", 0)
    assert res.value.values[0, 0] == 10.0  # type: ignore[union-attr]
