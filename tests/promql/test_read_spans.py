"""read_spans: how far back each selector of an expression reads."""

from __future__ import annotations

import pytest

from pharos.metrics.promql.engine import parse, read_spans

MIN = 60_000


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("up", {"up": 5 * MIN}),
        ("1 + 2", {}),
        ('rate(x{a="b"}[15m]) / x', {"x a=b": 15 * MIN, "x": 5 * MIN}),
        ("sum by (a) (rate(x[2m] offset 1h)) + max_over_time(x[10m])", {"x": 10 * MIN}),
        ("quantile_over_time(0.9, y[3m]) > scalar(z)", {"y": 3 * MIN, "z": 5 * MIN}),
        ("max_over_time(rate(x[1m])[10m:1m] offset 2m)", {"x": 11 * MIN}),
        ("topk(2, -abs(x - timestamp(y)))", {"x": 5 * MIN, "y": 5 * MIN}),
    ],
)
def test_read_spans(expr: str, want: dict[str, int]) -> None:
    """`want` names a selector as "metric label=value ..."."""
    got = {
        frozenset(m.value if m.name == "__name__" else f"{m.name}={m.value}" for m in key): span
        for key, span in read_spans(parse(expr)).items()
    }
    assert got == {frozenset(k.split()): v for k, v in want.items()}
