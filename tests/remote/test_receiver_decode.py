"""The receiver's bulk decoding of raw samples and its split into layers of distinct series."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pharos.metrics.model import Matcher, MatchOp
from pharos.metrics.remote.receiver import BadRequest, Receiver, decode_samples, decode_write_request, layers
from pharos.metrics.remote.schema import Sample, WriteRequest
from pharos.metrics.tsdb.db import TSDB

timestamps = st.integers(min_value=-(2**62), max_value=2**62)
values = st.floats(allow_nan=True, allow_infinity=True)
T0 = 1_800_000_000_000


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@given(st.lists(st.tuples(timestamps, values), max_size=40))
def test_bulk_decoding_agrees_with_protobuf(samples: list[tuple[int, float]]) -> None:
    raw = [Sample(timestamp=t, value=v).SerializeToString() for t, v in samples]
    ts, vals = decode_samples(raw)
    assert ts.tolist() == [t for t, _ in samples]
    assert all(same_value(a, b) for a, (_, b) in zip(vals.tolist(), samples, strict=True))


def test_unusual_encodings_fall_back_to_protobuf() -> None:
    reordered = b"\x10\x05" + b"\x09" + np.float64(2.5).tobytes()  # timestamp before value
    repeated = b"\x10\x01\x10\x07"  # the last one wins
    ts, vals = decode_samples([reordered, repeated, b""])
    assert ts.tolist() == [5, 7, 0] and vals.tolist() == [2.5, 0.0, 0.0]


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 1000)), max_size=60))
def test_layers_hold_distinct_series_in_time_order(pairs: list[tuple[int, int]]) -> None:
    refs = np.array([r for r, _ in pairs], dtype=np.uint32)
    ts = np.array([t for _, t in pairs], dtype=np.int64)
    vals = np.arange(len(pairs), dtype=np.float64)
    got: dict[int, list[int]] = {}
    for r, t, v in layers(refs, ts, vals):
        assert len(set(r.tolist())) == len(r)
        for ref, tt, vv in zip(r.tolist(), t.tolist(), v.tolist(), strict=True):
            assert pairs[int(vv)] == (ref, tt)
            got.setdefault(ref, []).append(tt)
    want: dict[int, list[int]] = {}
    for r, t in pairs:
        want.setdefault(r, []).append(t)
    assert got == {r: sorted(t) for r, t in want.items()}


def _request(*label_lists: list[tuple[str, str]]) -> Any:
    req = WriteRequest()
    for i, labels in enumerate(label_lists):
        ts = req.timeseries.add()
        for name, value in labels:
            ts.labels.add(name=name, value=value)
        ts.samples.add(timestamp=T0 + i, value=float(i))
    return decode_write_request(req.SerializeToString())


def test_new_series_of_a_request_get_canonical_labels(tmp_path: Path) -> None:
    db = TSDB(tmp_path)
    db.open()
    rx = Receiver()
    sorted_ = [("__name__", "up"), ("job", "a")]
    unsorted = [("job", "b"), ("__name__", "up"), ("zone", "")]
    stats = rx.write(db, _request(sorted_, unsorted, sorted_[::-1]))
    assert stats.appended == 3
    got = {
        s.labels: s.values.tolist() for s in db.select([Matcher("__name__", MatchOp.EQUAL, "up")], T0, T0 + 9)
    }
    assert got == {(("__name__", "up"), ("job", "a")): [0.0, 2.0], (("__name__", "up"), ("job", "b")): [1.0]}
    assert len(db.registry) == 2
    with pytest.raises(BadRequest, match="duplicate label name 'job'"):
        rx.write(db, _request([("__name__", "x"), ("job", "a"), ("job", "b")]))
    with pytest.raises(BadRequest, match="invalid label name 'a-b'"):
        rx.write(db, _request([("__name__", "x"), ("a-b", "1")]))
    with pytest.raises(BadRequest, match="invalid label name 'a-b'"):  # not cached as valid
        rx.write(db, _request([("a-b", "1"), ("__name__", "y")]))
    assert len(db.registry) == 2
    db.close()
