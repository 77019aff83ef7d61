"""Property: whatever is appended (and accepted) is exactly what select returns, across
head flushes, compactions and restarts."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tsdb_helpers import bits, lbl, open_db, read_all

from pharos.metrics.model import STALE_NAN

T0 = 1_700_006_400_000
WINDOW = 60_000
VALUES = [0.0, 1.5, -2.0, 1e300, STALE_NAN, float("nan"), float("inf")]

append_op = st.tuples(
    st.just("append"),
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 400_000), st.sampled_from(VALUES)), min_size=1, max_size=8
    ),
)
other_op = st.sampled_from([("flush",), ("maintain",), ("reopen",)])


class Model:
    """The append rules restated sample by sample."""

    def __init__(self) -> None:
        self.last: dict[int, tuple[int, int]] = {}
        self.stored: dict[int, dict[int, int]] = {}

    def append(self, s: int, t: int, b: int) -> bool:
        last = self.last.get(s)
        if last is not None:
            lt, _ = last
            if t == lt or (t < lt and t < lt - WINDOW):
                return False
        if last is None or t > last[0]:
            self.last[s] = (t, b)
        self.stored.setdefault(s, {}).setdefault(t, b)
        return True


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(append_op, other_op), min_size=1, max_size=25))
def test_random_appends_read_back(ops: list) -> None:
    tmp = Path(tempfile.mkdtemp())
    try:
        db = open_db(tmp, out_of_order_window_ms=WINDOW, block_duration_ms=100_000)
        labels = [lbl("p", i=str(i)) for i in range(5)]
        model = Model()
        now = T0
        for op in ops:
            if op[0] == "append":
                refs = [db.get_ref(labels[s]) for s, _, _ in op[1]]
                ts = [T0 + t for _, t, _ in op[1]]
                vals = np.array([v for _, _, v in op[1]])
                res = db.append(np.array(refs), np.array(ts), vals)
                accepted = sum(
                    model.append(s, T0 + t, b) for (s, t, _), b in zip(op[1], bits(vals), strict=True)
                )
                assert res.appended == accepted
                now = max(now, *ts)
            elif op[0] == "flush":
                db.flush(now)
            elif op[0] == "maintain":
                db.maintain(now)
            else:
                db.close()
                db = open_db(tmp, out_of_order_window_ms=WINDOW, block_duration_ms=100_000)
        expected = {
            labels[s]: (sorted(samples), [samples[t] for t in sorted(samples)])
            for s, samples in model.stored.items()
        }
        assert read_all(db) == expected
        db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
