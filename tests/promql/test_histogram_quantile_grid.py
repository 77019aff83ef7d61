"""histogram_quantile over a range grid whose buckets come and go: each step as its instant query."""

from __future__ import annotations

import math

import numpy as np

from pharos.metrics.model import make_labels
from pharos.metrics.promql.engine import Engine
from pharos.metrics.promql.memory import MemoryQuerier

STEPS = range(0, 600_001, 60_000)


def _store() -> MemoryQuerier:
    q = MemoryQuerier()
    rng = np.random.default_rng(7)
    for inst in ("a", "b", "c"):
        for k, le in enumerate(("0.1", "0.5", "1", "+Inf")):
            ts = np.arange(0, 600_001, 30_000, dtype=np.int64)
            keep = rng.random(len(ts)) > (0.0 if le == "+Inf" else 0.25 * k)  # buckets missing at times
            counts = np.cumsum(rng.integers(0, 3, len(ts))).astype(float) * (k + 1)
            labels = make_labels({"__name__": "h_bucket", "inst": inst, "le": le})
            q.add(labels, ts[keep], counts[keep])
    return q


def test_range_steps_equal_instant_queries() -> None:
    store, expr = _store(), "histogram_quantile(0.7, rate(h_bucket[1m]))"
    res = Engine(store).range(expr, STEPS.start, STEPS.stop - 1, STEPS.step)
    got = {
        (dict(ls)["inst"], int(t)): float(v)
        for ls, ts, vals in res.value
        for t, v in zip(ts, vals, strict=True)
    }
    want = {}
    for t in STEPS:
        vec = Engine(store).instant(expr, t).value
        for i in np.flatnonzero(vec.present[:, 0]):
            want[(dict(vec.labels[i])["inst"], t)] = float(vec.values[i, 0])
    assert got.keys() == want.keys() and len(got) == 3 * (len(STEPS) - 1)  # no rate at 0
    assert all(math.isclose(got[k], want[k]) or (math.isnan(got[k]) and math.isnan(want[k])) for k in got)
    assert len({round(v, 9) for v in got.values()}) > 5  # the missing buckets change the answers
