"""TSDB behaviour: append rules, reads across head/parts/blocks, restart, retention, stats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from tsdb_helpers import HOUR, bits, eq, lbl, open_db, read_all

from pharos.metrics.model import STALE_NAN, STALE_NAN_BITS, Matcher, MatchOp
from pharos.metrics.tsdb.db import TSDB

T0 = 1_700_006_400_000  # aligned to 2h
MIN = 60_000


def _one(db: TSDB, ref: int, t: int, v: float):
    return db.append(np.array([ref]), np.array([t]), np.array([v]))


def test_append_and_select_scrape_batches(db: TSDB) -> None:
    refs = np.array([db.get_ref(lbl("node_cpu", cpu=str(i))) for i in range(100)], dtype=np.uint32)
    for k in range(20):
        res = db.append(refs, np.array([T0 + k * 15_000]), np.arange(100) * 1.5 + k)
        assert (res.appended, res.out_of_order, res.duplicate, res.out_of_bounds) == (100, 0, 0, 0)
    got = db.select([eq("__name__", "node_cpu"), eq("cpu", "7")], T0, T0 + 10**9)
    assert len(got) == 1
    assert got[0].labels == lbl("node_cpu", cpu="7")
    assert got[0].timestamps.tolist() == [T0 + k * 15_000 for k in range(20)]
    assert got[0].values.tolist() == [7 * 1.5 + k for k in range(20)]
    # time range is inclusive at both ends
    part = db.select([eq("cpu", "7")], T0 + 15_000, T0 + 45_000)[0]
    assert part.timestamps.tolist() == [T0 + 15_000, T0 + 30_000, T0 + 45_000]


def test_get_ref_is_idempotent(db: TSDB) -> None:
    a = db.get_ref(lbl("x", a="1"))
    assert db.get_ref(lbl("x", a="1")) == a
    assert db.get_ref(lbl("x", a="2")) != a


def test_duplicates_and_out_of_order_window_edges(db: TSDB) -> None:
    window = db.options.out_of_order_window_ms
    r = db.get_ref(lbl("m"))
    assert _one(db, r, T0, 1.0).appended == 1
    same = _one(db, r, T0, 1.0)  # identical duplicate: a no-op, not an error
    assert (same.appended, same.duplicate) == (0, 0)
    conflict = _one(db, r, T0, 2.0)
    assert (conflict.appended, conflict.duplicate) == (0, 1)
    assert _one(db, r, T0 + 2 * window, 3.0).appended == 1
    newest = T0 + 2 * window
    edge = _one(db, r, newest - window, 4.0)  # exactly at the window edge: accepted
    assert (edge.appended, edge.out_of_order) == (1, 0)
    past = _one(db, r, newest - window - 1, 5.0)  # one ms beyond: rejected
    assert (past.appended, past.out_of_order) == (0, 1)
    s = db.select([eq("__name__", "m")], 0, 2**62)[0]
    assert s.timestamps.tolist() == [T0, newest - window, newest]
    assert s.values.tolist() == [1.0, 4.0, 3.0]


def test_out_of_order_disabled(tmp_path: Path) -> None:
    db = open_db(tmp_path, out_of_order_window_ms=0)
    r = db.get_ref(lbl("m"))
    _one(db, r, T0, 1.0)
    assert _one(db, r, T0 - 1, 1.0).out_of_order == 1
    db.close()


def test_out_of_bounds_older_than_retention(tmp_path: Path) -> None:
    db = open_db(tmp_path, retention_time_ms=HOUR)
    r = db.get_ref(lbl("m"))
    _one(db, r, T0, 1.0)
    r2 = db.get_ref(lbl("m", new="series"))
    assert _one(db, r2, T0 - 2 * HOUR, 1.0).out_of_bounds == 1
    db.close()


def test_repeated_series_in_one_batch(db: TSDB) -> None:
    r = db.get_ref(lbl("m"))
    res = db.append(
        np.array([r, r, r, r]), np.array([T0 + 2, T0 + 1, T0 + 2, T0 + 3]), np.array([1.0, 2, 9, 3])
    )
    assert (res.appended, res.duplicate) == (3, 1)
    s = db.select([eq("__name__", "m")], 0, 2**62)[0]
    assert s.timestamps.tolist() == [T0 + 1, T0 + 2, T0 + 3]
    assert s.values.tolist() == [2.0, 1.0, 3.0]


def test_unknown_ref_is_an_error(db: TSDB) -> None:
    try:
        db.append(np.array([5]), np.array([T0]), np.array([1.0]))
    except ValueError:
        return
    raise AssertionError("append with an unknown ref did not fail")


def test_stale_nan_round_trips_through_wal_head_parquet(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    r = db.get_ref(lbl("m"))
    plain_nan = float("nan")
    db.append(np.array([r, r, r]), np.array([T0, T0 + 1, T0 + 2]), np.array([1.0, STALE_NAN, plain_nan]))
    expected = bits(np.array([1.0, STALE_NAN, plain_nan]))
    assert expected[1] == STALE_NAN_BITS
    assert bits(db.select([eq("__name__", "m")], 0, 2**62)[0].values) == expected  # head
    db.close()
    db = open_db(tmp_path)  # WAL replay
    assert bits(db.select([eq("__name__", "m")], 0, 2**62)[0].values) == expected
    db.flush(T0)
    assert db.stats()["pharos"]["head_samples"] == 0
    assert bits(db.select([eq("__name__", "m")], 0, 2**62)[0].values) == expected  # Parquet via DuckDB
    db.close()


def _fill(db: TSDB, n_series: int, start: int, end: int, step: int) -> dict:
    refs = np.array([db.get_ref(lbl("g", i=str(i))) for i in range(n_series)], dtype=np.uint32)
    for t in range(start, end, step):
        db.append(refs, np.array([t]), (refs.astype(np.float64) + t / 1000.0))
    return read_all(db)


def test_blocks_cut_compacted_and_read_after_restart(tmp_path: Path) -> None:
    db = open_db(tmp_path, head_flush_interval_ms=20 * MIN)
    expected = {}
    for hour in range(5):  # 5h of data, maintain every "10 minutes"
        for tenth in range(6):
            start = T0 + hour * HOUR + tenth * 10 * MIN
            expected = _fill(db, 20, start, start + 10 * MIN, 30_000)
            db.maintain(start + 10 * MIN)
    levels = sorted((b.window, b.level) for b in db.backend.blocks())
    # two closed 2h windows compacted into one level-1 block each; the open one still in parts
    assert (T0, 1) in levels and (T0 + 2 * HOUR, 1) in levels
    assert [lv for w, lv in levels if w < T0 + 4 * HOUR] == [1, 1]
    assert read_all(db) == expected
    db.close()
    files = sorted((tmp_path / "blocks").glob("*.parquet"))
    assert files, "no block files on disk"
    meta = pq.ParquetFile(files[0]).metadata
    assert meta.schema.names == ["series", "ts", "value_i", "value_f"]
    assert meta.row_group(0).column(1).compression == "ZSTD"
    db = open_db(tmp_path)
    assert read_all(db) == expected
    db.close()


def test_wal_truncated_after_flush_and_catalog_keeps_series(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    expected = _fill(db, 50, T0, T0 + 10 * MIN, 15_000)
    before = db.wal.size_bytes()
    db.flush(T0 + 10 * MIN)
    assert db.wal.size_bytes() < before / 10
    db.close()
    assert list((tmp_path / "series").glob("*.parquet"))
    db = open_db(tmp_path)
    assert read_all(db) == expected
    assert db.series([[eq("__name__", "g")]], 0, 2**62)[0] == lbl("g", i="0")
    db.close()


def test_retention_by_time_drops_blocks(tmp_path: Path) -> None:
    db = open_db(tmp_path, retention_time_ms=6 * HOUR, head_flush_interval_ms=HOUR)
    _fill(db, 5, T0, T0 + 10 * HOUR, 5 * MIN)
    db.maintain(T0 + 10 * HOUR)
    db.maintain(T0 + 10 * HOUR)
    assert min(b.mint for b in db.backend.blocks()) >= T0 + 2 * HOUR
    got = db.select([eq("i", "1")], 0, 2**62)[0]
    assert got.timestamps[0] >= T0 + 2 * HOUR
    assert got.timestamps[-1] == T0 + 10 * HOUR - 5 * MIN
    listed = {b.name for b in db.backend.blocks()}
    db.close()
    # dropped files are gone from disk (garbage collected when no reader is active)
    assert {p.name for p in (tmp_path / "blocks").glob("*.parquet")} == listed


def test_retention_by_size_drops_oldest_blocks(tmp_path: Path) -> None:
    db = open_db(tmp_path, head_flush_interval_ms=HOUR)
    _fill(db, 50, T0, T0 + 12 * HOUR, MIN)
    db.maintain(T0 + 12 * HOUR)
    blocks = [b for b in db.backend.blocks() if b.level == 1]
    assert len(blocks) >= 4
    db.options.retention_size_bytes = db.backend.disk_bytes() + db.wal.size_bytes() - blocks[0].nbytes // 2
    db.maintain(T0 + 12 * HOUR)
    remaining = db.backend.blocks()
    assert blocks[0].name not in {b.name for b in remaining}
    assert blocks[1].name in {b.name for b in remaining}
    db.close()


def test_late_sample_after_compaction_is_merged(tmp_path: Path) -> None:
    db = open_db(tmp_path)
    r = db.get_ref(lbl("m"))
    for t in range(T0, T0 + 2 * HOUR + 20 * MIN, MIN):
        _one(db, r, t, float(t))
    db.maintain(T0 + 3 * HOUR)
    assert any(b.level == 1 and b.window == T0 for b in db.backend.blocks())
    # a different series gets a sample in the already compacted window (allowed: its own OOO)
    r2 = db.get_ref(lbl("m", late="1"))
    _one(db, r2, T0 + HOUR, 7.0)
    db.flush(T0 + 3 * HOUR)
    db.maintain(T0 + 3 * HOUR)
    window_files = [b for b in db.backend.blocks() if b.window == T0]
    assert len(window_files) == 1 and window_files[0].level == 1
    assert db.select([eq("late", "1")], 0, 2**62)[0].values.tolist() == [7.0]
    assert len(db.select([eq("__name__", "m"), eq("late", "")], 0, 2**62)[0].timestamps) == 140
    db.close()


def test_series_labels_and_values_respect_time_range(db: TSDB) -> None:
    a = db.get_ref(lbl("up", job="a"))
    b = db.get_ref(lbl("up", job="b", zone="z1"))
    _one(db, a, T0, 1.0)
    _one(db, b, T0 + HOUR, 1.0)
    assert db.series([[eq("__name__", "up")]], T0 - 10, T0 + 10) == [lbl("up", job="a")]
    assert db.label_names([], T0 + HOUR, T0 + HOUR) == ["__name__", "job", "zone"]
    assert db.label_names([[eq("job", "a")]], 0, 2**62) == ["__name__", "job"]
    assert db.label_values("job", [], 0, 2**62) == ["a", "b"]
    assert db.label_values("job", [[Matcher("zone", MatchOp.EQUAL, "z1")]], 0, 2**62) == ["b"]
    db.flush(T0 + HOUR)
    assert db.series([[eq("__name__", "up")]], T0 + 10, T0 + 2 * HOUR) == [lbl("up", job="b", zone="z1")]


def test_stats_shape(db: TSDB) -> None:
    for i in range(12):
        r = db.get_ref(lbl("node_cpu", cpu=str(i), job="node"))
        _one(db, r, T0 + i, 1.0)
    r = db.get_ref(lbl("up", job="node"))
    _one(db, r, T0, 1.0)
    st = db.stats()
    hs = st["headStats"]
    assert hs["numSeries"] == 13
    assert (hs["minTime"], hs["maxTime"]) == (T0, T0 + 11)
    assert st["seriesCountByMetricName"][0] == {"name": "node_cpu", "value": 12}
    assert {"name": "job=node", "value": 13} in st["seriesCountByLabelValuePair"]
    assert len(st["seriesCountByLabelValuePair"]) == 10
    assert st["labelValueCountByLabelName"][0] == {"name": "cpu", "value": 12}
    assert st["pharos"]["samples_appended_total"] == 13
    assert st["pharos"]["wal_bytes"] > 0


def test_select_flat_matches_select_across_blocks_parts_and_head(tmp_path: Path) -> None:
    db = open_db(tmp_path, head_flush_interval_ms=20 * MIN)
    for hour in range(3):
        start = T0 + hour * HOUR
        _fill(db, 12, start, start + HOUR, 60_000)
        db.maintain(start + HOUR)
    _fill(db, 12, T0 + 3 * HOUR, T0 + 3 * HOUR + 10 * MIN, 60_000)  # still in the head
    regex = Matcher("i", MatchOp.REGEX, "1.*|3|7")
    for mint, maxt in ((0, 2**62), (T0 + 90 * MIN, T0 + 190 * MIN), (T0 + 179 * MIN, T0 + 181 * MIN)):
        want = sorted(db.select([regex], mint, maxt), key=lambda s: s.labels)
        labels, ts, vals, offsets = db.select_flat([regex], mint, maxt)
        assert labels == [s.labels for s in want]
        for i, s in enumerate(want):
            assert ts[offsets[i] : offsets[i + 1]].tolist() == s.timestamps.tolist()
            assert bits(vals[offsets[i] : offsets[i + 1]]) == bits(s.values)
    assert db.select_flat([eq("i", "nope")], 0, 2**62)[0] == []
    db.close()


def test_get_refs_creates_each_new_series_once_and_logs_it(tmp_path: Path) -> None:
    db = open_db(tmp_path / "data")
    known = db.get_ref(lbl("x", a="1"))
    refs = db.get_refs([lbl("y"), lbl("x", a="1"), lbl("z", a="2"), lbl("y")])
    assert refs[1] == known and refs[0] == refs[3] and len({known, refs[0], refs[2]}) == 3
    db.append(np.array([refs[0], refs[2]], np.uint32), np.array([T0]), np.array([1.0, 2.0]))
    db.close()
    db = open_db(tmp_path / "data")  # the series come back from the WAL with the same refs
    assert [db.registry.get(ls) for ls in (lbl("y"), lbl("z", a="2"))] == [refs[0], refs[2]]
    assert db.registry.match([eq("a", "2")]).tolist() == [refs[2]]
    assert [s.values.tolist() for s in db.select([eq("__name__", "z")], T0, T0)] == [[2.0]]
    db.close()
