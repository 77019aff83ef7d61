"""`sort_dedup`, which orders every head flush, compaction and read: its fast path (a stable
sort by series when each series is already in time order and priorities do not decrease) and
its general path agree with a plain sort."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pharos.storage.backend import SampleRun
from pharos.storage.parquet import sort_dedup

samples = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 6), st.integers(0, 2)), max_size=40)


def _expected(rows: list[tuple[int, int, int]]) -> list[tuple[int, int, float]]:
    """(series, ts, value) sorted, keeping the lowest priority, then the first written, of a
    repeated (series, ts); the value is the row's position."""
    best: dict[tuple[int, int], tuple[int, int]] = {}
    for i, (s, t, p) in enumerate(rows):
        best[(s, t)] = min(best.get((s, t), (p, i)), (p, i))
    return sorted((s, t, float(i)) for (s, t), (_, i) in best.items())


@given(samples, st.sampled_from(["none", "ascending", "any"]), st.booleans())
def test_sort_dedup_keeps_the_first_written_sample(
    rows: list[tuple[int, int, int]], priorities: str, in_time_order: bool
) -> None:
    if in_time_order:  # the head's usual shape: each series' samples ascend in write order
        rows = sorted(rows, key=lambda r: r[1])
    if priorities == "ascending":  # files read one after the other
        rows = sorted(rows, key=lambda r: r[2])
    if priorities == "none":
        rows = [(s, t, 0) for s, t, _ in rows]
    run = SampleRun(
        np.array([r[0] for r in rows], np.uint32),
        np.array([r[1] for r in rows], np.int64),
        np.arange(len(rows), dtype=np.float64),
    )
    priority = None if priorities == "none" else np.array([r[2] for r in rows], np.int64)
    out = sort_dedup(run, priority)
    got = list(zip(out.series.tolist(), out.ts.tolist(), out.values.tolist(), strict=True))
    assert got == _expected(rows)
