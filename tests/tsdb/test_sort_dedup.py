"""`sort_dedup`, which orders every head flush and every read: its fast path (a stable sort by
series when each series is already in time order) and its general path agree with a plain sort."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pharos.storage.backend import SampleRun
from pharos.storage.parquet import sort_dedup

samples = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6)), max_size=40)


def _expected(pairs: list[tuple[int, int]]) -> list[tuple[int, int, float]]:
    """(series, ts, value) sorted, keeping the first written of a repeated (series, ts)."""
    first: dict[tuple[int, int], float] = {}
    for i, key in enumerate(pairs):
        first.setdefault(key, float(i))
    return sorted((s, t, v) for (s, t), v in first.items())


@given(samples, st.booleans())
def test_sort_dedup_keeps_the_first_written_sample(pairs: list[tuple[int, int]], in_time_order: bool) -> None:
    if in_time_order:  # the head's usual shape: each series' samples ascend in write order
        pairs = sorted(pairs, key=lambda p: p[1])
    run = SampleRun(
        np.array([s for s, _ in pairs], np.uint32),
        np.array([t for _, t in pairs], np.int64),
        np.arange(len(pairs), dtype=np.float64),
    )
    out = sort_dedup(run)
    got = list(zip(out.series.tolist(), out.ts.tolist(), out.values.tolist(), strict=True))
    assert got == _expected(pairs)
