"""Head reads through the per-batch ref index give what a scan of every sample gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pharos.metrics.tsdb.head import Batch, collect, concat_batches, make_batch

batch_st = st.tuples(
    st.lists(st.integers(0, 30), min_size=1, max_size=12),  # refs, any order, repeats allowed
    st.booleans(),  # one shared timestamp
    st.integers(0, 1000),
)


def _batch(refs: list[int], shared: bool, t0: int) -> Batch:
    r = np.array(refs, np.uint32)
    ts = np.array([t0]) if shared else t0 + np.arange(len(refs), dtype=np.int64) * 7
    return make_batch(r, ts.astype(np.int64), np.arange(len(refs), dtype=np.float64) + t0 / 1000)


def _scan(batches: list[Batch], refs: set[int], mint: int, maxt: int) -> dict[int, list[tuple[int, float]]]:
    """Per series, (ts, value) in write order, by looking at every sample."""
    out: dict[int, list[tuple[int, float]]] = {}
    for b in batches:
        for r, t, v in zip(b.refs.tolist(), b.full_ts().tolist(), b.values.tolist(), strict=True):
            if r in refs and mint <= t <= maxt:
                out.setdefault(r, []).append((t, v))
    return out


def _by_series(run) -> dict[int, list[tuple[int, float]]]:  # type: ignore[no-untyped-def]
    out: dict[int, list[tuple[int, float]]] = {}
    for r, t, v in zip(run.series.tolist(), run.ts.tolist(), run.values.tolist(), strict=True):
        out.setdefault(r, []).append((t, v))
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(batch_st, min_size=1, max_size=8),
    st.integers(0, 8),
    st.sets(st.integers(0, 32), max_size=10),
    st.integers(-10, 1100),
    st.integers(0, 400),
)
def test_collect_matches_a_scan(specs: list, merged: int, wanted: set[int], mint: int, width: int) -> None:
    batches = [_batch(*s) for s in specs]
    if merged > 1:  # the maintenance thread's consolidation of the oldest batches
        batches = [concat_batches(batches[:merged]), *batches[merged:]]
    refs = np.array(sorted(wanted), np.uint32)
    got = _by_series(collect(batches, refs, mint, mint + width))
    assert got == _scan(batches, wanted, mint, mint + width)


def test_consolidated_batch_is_ordered_by_ref_and_keeps_write_order() -> None:
    a = make_batch(np.array([5, 1, 3], np.uint32), np.array([10], np.int64), np.array([1.0, 2.0, 3.0]))
    b = make_batch(np.array([3, 5], np.uint32), np.array([20, 21], np.int64), np.array([4.0, 5.0]))
    m = concat_batches([a, b])
    assert m.refs.tolist() == [1, 3, 3, 5, 5]
    assert m.full_ts().tolist() == [10, 10, 20, 10, 21]
    assert m.order is None
    assert a.order is not None and a.sorted_refs.tolist() == [1, 3, 5]


def test_collect_all_series() -> None:
    a = make_batch(np.array([2, 0], np.uint32), np.array([10], np.int64), np.array([1.0, 2.0]))
    run = collect([a], None, 0, 100)
    assert run.series.tolist() == [2, 0] and run.ts.tolist() == [10, 10]
