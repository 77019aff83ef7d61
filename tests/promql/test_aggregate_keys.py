"""Aggregation group keys, remembered across queries, stay right for each grouping."""

from __future__ import annotations

import numpy as np

from pharos.metrics.model import make_labels
from pharos.metrics.promql.engine import Engine
from pharos.metrics.promql.memory import MemoryQuerier


def _result(engine: Engine, expr: str) -> dict[str, float]:
    v = engine.instant(expr, 0).value
    return {",".join(f"{n}={x}" for n, x in ls): float(v.values[i, 0]) for i, ls in enumerate(v.labels)}


def test_by_and_without_the_same_labels_over_repeated_queries() -> None:
    q = MemoryQuerier()
    for a in ("1", "2"):
        for b in ("x", "y", "z"):
            q.add(
                make_labels({"__name__": "m", "a": a, "b": b}), np.array([0]), np.array([float(int(a) * 10)])
            )
    engine = Engine(q)
    for _ in range(2):
        assert _result(engine, "sum by (a) (m)") == {"a=1": 30.0, "a=2": 60.0}
        assert _result(engine, "sum without (a) (m)") == {"b=x": 30.0, "b=y": 30.0, "b=z": 30.0}
        assert _result(engine, "count by (b) (m)") == {"b=x": 2.0, "b=y": 2.0, "b=z": 2.0}
        assert _result(engine, "max without (b) (m)") == {"a=1": 10.0, "a=2": 20.0}
        assert _result(engine, "sum(m)") == {"": 90.0}
        # the same set of names, by and without: {__name__, b}
        assert _result(engine, "sum by (__name__, b) (m)") == {
            "__name__=m,b=x": 30.0,
            "__name__=m,b=y": 30.0,
            "__name__=m,b=z": 30.0,
        }
        assert _result(engine, "sum without (b) (m)") == {"a=1": 30.0, "a=2": 60.0}
