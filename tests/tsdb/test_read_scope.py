"""Read scopes: inside one, selects give what they give outside, from one read per matcher set."""

from __future__ import annotations

import threading

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tsdb_helpers import bits, eq, lbl

from pharos.metrics.tsdb.db import TSDB

T0 = 1_700_006_400_000


def _fill(db: TSDB) -> list[int]:
    refs = [db.get_ref(lbl("m", i=str(i), odd=str(i % 2))) for i in range(6)]
    for k in range(40):  # series i has samples every (i + 1) * 15 s
        sel = [r for i, r in enumerate(refs) if k % (i + 1) == 0]
        db.append(np.array(sel), np.array([T0 + k * 15_000]), np.full(len(sel), float(k)))
    return refs


def _plain(flat: tuple) -> tuple:
    labels, ts, values, offsets = flat
    return labels, ts.tolist(), bits(values), offsets.tolist()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(st.sampled_from(["0", "1", None]), st.integers(-60, 700), st.integers(0, 700)),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 700),
)
def test_scoped_selects_equal_plain_selects(db: TSDB, asks: list, span_s: int) -> None:
    if len(db.registry) == 0:
        _fill(db)
    spans = {(eq("odd", "0"), eq("__name__", "m")): span_s * 1000}
    for odd, start, width in asks:
        matchers = [eq("__name__", "m")] if odd is None else [eq("odd", odd), eq("__name__", "m")]
        mint, maxt = T0 + start * 1000, T0 + (start + width) * 1000
        want = _plain(db.select_flat(matchers, mint, maxt))
        with db.read_scope(spans):
            for _ in range(2):  # the second one comes from the scope's read
                assert _plain(db.select_flat(matchers, mint, maxt)) == want


def test_a_scope_reads_each_matcher_set_once(db: TSDB, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _fill(db)
    calls: list[tuple[int, int]] = []
    real = db._select_flat

    def counting(matchers, mint, maxt):  # type: ignore[no-untyped-def]
        calls.append((mint, maxt))
        return real(matchers, mint, maxt)

    monkeypatch.setattr(db, "_select_flat", counting)
    end = T0 + 39 * 15_000
    m = [eq("__name__", "m")]
    with db.read_scope({tuple(m): 300_000}):
        assert len(db.select_flat(m, end - 60_000, end)[0]) == 6
        assert len(db.select_flat(m, end - 300_000, end)[0]) == 6
        assert len(db.select_flat(m, end - 20_000, end)[0]) == 3  # series with a sample in 20 s
    assert calls == [(end - 300_000, end)]


def test_a_scope_sees_its_own_appends_but_not_other_threads(db: TSDB) -> None:
    refs = _fill(db)
    m = [eq("__name__", "m"), eq("i", "0")]
    t_new = T0 + 40 * 15_000

    def last(db: TSDB) -> float:
        return float(db.select_flat(m, T0, t_new + 1)[2][-1])

    with db.read_scope({tuple(m): 3_600_000}):
        assert last(db) == 39.0
        other = threading.Thread(
            target=db.append, args=(np.array([refs[0]]), np.array([t_new]), np.array([1.0]))
        )
        other.start()
        other.join()
        assert last(db) == 39.0  # a consistent view for the scope
        db.append(np.array([refs[0]]), np.array([t_new + 1]), np.array([2.0]))
        assert last(db) == 2.0  # its own writes drop the read
    assert last(db) == 2.0
