"""count_values over a range grid: one output series per (group, value text), counted per step."""

from __future__ import annotations

import numpy as np

from pharos.metrics.model import make_labels
from pharos.metrics.promql.engine import Engine
from pharos.metrics.promql.memory import MemoryQuerier


def _store() -> MemoryQuerier:
    q = MemoryQuerier()
    ts = np.array([0, 60_000, 120_000], np.int64)
    rows = {
        ("a", "x"): [1.0, 0.0, 2.5],
        ("b", "x"): [1.0, -0.0, 2.5],
        ("c", "y"): [1.0, 1.0, float("nan")],
        ("d", "y"): [3.0, 1.0, 1.0],
    }
    for (inst, job), vals in rows.items():
        q.add(make_labels({"__name__": "m", "inst": inst, "job": job}), ts, np.array(vals))
    return q


def _points(expr: str) -> dict[tuple[tuple[str, str], ...], dict[int, float]]:
    res = Engine(_store()).range(expr, 0, 120_000, 60_000)
    return {
        tuple(sorted(ls)): dict(zip(ts.tolist(), vals.tolist(), strict=True)) for ls, ts, vals in res.value
    }


def test_count_values_by_group_counts_each_value_text_per_step() -> None:
    got = _points('count_values by (job) ("v", m)')
    assert got == {
        (("job", "x"), ("v", "1")): {0: 2.0},
        (("job", "x"), ("v", "0")): {60_000: 1.0},
        (("job", "x"), ("v", "-0")): {60_000: 1.0},  # Go formats -0 apart from 0
        (("job", "x"), ("v", "2.5")): {120_000: 2.0},
        (("job", "y"), ("v", "1")): {0: 1.0, 60_000: 2.0, 120_000: 1.0},
        (("job", "y"), ("v", "3")): {0: 1.0},
        (("job", "y"), ("v", "NaN")): {120_000: 1.0},
    }


def test_count_values_label_overrides_an_existing_label() -> None:
    got = _points('count_values("job", m)')  # the value replaces job: x and y series merge
    assert got[(("job", "1"),)] == {0: 3.0, 60_000: 2.0, 120_000: 1.0}
    assert got[(("job", "2.5"),)] == {120_000: 2.0}
    assert set(got) == {(("job", v),) for v in ("1", "0", "-0", "2.5", "3", "NaN")}
