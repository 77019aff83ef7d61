"""Block rewrites: compaction, per-stream retention, deletes in the store, crash-safe replacement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from pharos.storage.logs import LineFilter, LogStore, ScanSpec, StoreOptions, StreamWrite
from pharos.storage.logs.rewrite import CompactionPolicy, compaction_plan
from pharos.storage.logs.store import Hidden, StreamRule

NS = 1_000_000_000
ALL = 10**20


def _write(store: LogStore, app: str, start_s: int, n: int, tenant: str = "t") -> None:
    ts = np.arange(start_s, start_s + n, dtype=np.int64) * NS
    store.append(
        tenant,
        [StreamWrite({"app": app}, ts, [f"{app} {i} {'secret' if i % 5 == 0 else 'ok'}" for i in range(n)])],
    )


def _lines(store: LogStore, tenant: str = "t") -> list[tuple[int, int, str]]:
    n = len(store.streams(tenant))
    table = store.scan(tenant, ScanSpec(list(range(n)), 0, ALL))
    return sorted(
        zip(
            table.column("stream").to_pylist(),
            table.column("ts").to_pylist(),
            table.column("line").to_pylist(),
            strict=True,
        )
    )


def _blocks(root: Path, tenant: str = "t") -> list[Path]:
    return sorted((root / "tenants" / tenant / "blocks").glob("*.parquet"))


def _app(name: str):
    return lambda lb: lb.get("app") == name


def test_compaction_merges_small_blocks_and_keeps_every_line(tmp_path):
    s = LogStore(tmp_path, StoreOptions(compaction=CompactionPolicy(fanout=4, idle_ns=3600 * NS)))
    s.open()
    for i in range(9):
        _write(s, "a" if i % 2 else "b", 1000 + i * 100, 50)
        s.flush()
    before = _lines(s)
    assert len(_blocks(tmp_path)) == 9
    assert s.compact() == 0  # plain blocks wait while the store is ingesting
    s.options.compaction = CompactionPolicy(fanout=4, idle_ns=0)
    assert s.compact() == 3
    assert len(_blocks(tmp_path)) == 3  # two merged blocks + the ninth, each encoded
    assert all(pq.read_schema(p).names[2] == "tpl" for p in _blocks(tmp_path))
    assert _lines(s) == before
    s.close()
    s2 = LogStore(tmp_path)
    s2.open()
    assert _lines(s2) == before
    s2.close()


def test_compaction_plan_respects_tiers_and_span():
    from pharos.storage.logs.blocks import Block

    small = [Block(Path(f"{i}"), i * 10, i * 10 + 5, 1000) for i in range(5)]
    big = [Block(Path(f"b{i}"), i, i + 1, 100 << 20) for i in range(2)]
    groups = compaction_plan(small + big, CompactionPolicy(fanout=4))
    assert [[b.path.name for b in g] for g in groups] == [["0", "1", "2", "3"], ["4"], ["b0"], ["b1"]]
    assert compaction_plan(small + big, CompactionPolicy(fanout=4), encode_plain=False) == []
    encoded = [Block(b.path, b.mint, b.maxt, b.nbytes, encoded=True) for b in small]
    groups = compaction_plan(encoded, CompactionPolicy(fanout=4), encode_plain=False)
    assert [[b.path.name for b in g] for g in groups] == [["0", "1", "2", "3"]]
    narrow = CompactionPolicy(fanout=2, max_span_ns=12)
    assert [[b.path.name for b in g] for g in compaction_plan(encoded, narrow)] == []


def test_stream_retention_any_period_priority_and_longest(tmp_path):
    rules = [
        StreamRule(_app("a"), 90 * NS, 1),
        StreamRule(_app("a"), 30 * NS, 1),
        StreamRule(lambda lb: True, 10 * NS, 0),
    ]
    s = LogStore(tmp_path, StoreOptions(stream_retention=rules, retention_recheck_ns=0))
    s.open()
    _write(s, "a", 1000, 200)  # ts 1000..1199 s
    _write(s, "b", 1000, 200)
    s.flush()
    s.apply_retention(now_ns=1200 * NS)
    got = _lines(s)
    a_ts = sorted(ts // NS for sid, ts, _ in got if sid == 0)
    b_ts = sorted(ts // NS for sid, ts, _ in got if sid == 1)
    assert a_ts == list(range(1110, 1200))  # priority 1, the longest of the two: 90 s
    assert b_ts == list(range(1190, 1200))  # only the catch-all: 10 s
    s.close()


def test_tenant_retention_without_stream_rules_drops_whole_blocks_only(tmp_path):
    s = LogStore(tmp_path, StoreOptions(retention_ns=100 * NS))
    s.open()
    _write(s, "a", 1000, 50)
    s.flush()
    _write(s, "a", 1100, 50)
    s.flush()
    assert s.apply_retention(now_ns=1200 * NS) == 1
    assert [ts // NS for _, ts, _ in _lines(s)] == list(range(1100, 1150))
    s.close()


@pytest.mark.parametrize("encoded", [False, True])
def test_store_delete_head_and_blocks_with_line_filter(tmp_path, encoded):
    s = LogStore(tmp_path, StoreOptions(compaction=CompactionPolicy(idle_ns=0)))
    s.open()
    _write(s, "a", 1000, 20)
    s.flush()
    if encoded:
        assert s.compact() == 1
        assert pq.read_schema(_blocks(tmp_path)[0]).names[2] == "tpl"
    _write(s, "a", 1020, 20)  # head
    _write(s, "b", 1000, 20)
    s.delete("t", _app("a"), 1010 * NS, 1029 * NS, [LineFilter("contains", ("secret",))])
    gone = {(0, t) for t in range(1010, 1030) if (t - 1000) % 20 % 5 == 0}
    kept = {(sid, ts // NS) for sid, ts, _ in _lines(s)}
    want = {(0, t) for t in range(1000, 1040)} - gone | {(1, t) for t in range(1000, 1020)}
    assert kept == want
    for sid, ts, line in _lines(s):
        i = ts // NS - (1020 if sid == 0 and ts // NS >= 1020 else 1000)
        assert line == f"{'ab'[sid]} {i} {'secret' if i % 5 == 0 else 'ok'}"
    s.close()
    s2 = LogStore(tmp_path)
    s2.open()
    assert {(sid, ts // NS) for sid, ts, _ in _lines(s2)} == want
    s2.close()


def test_hidden_rows_are_not_read(store):
    _write(store, "a", 1000, 10)
    _write(store, "b", 1000, 10)
    store.set_hidden("t", [Hidden(_app("a"), 1002 * NS, 1004 * NS)])
    assert sorted(ts // NS for sid, ts, _ in _lines(store) if sid == 0) == [
        1000,
        1001,
        1005,
        1006,
        1007,
        1008,
        1009,
    ]
    stats = store.stream_stats("t", ScanSpec([0, 1], 0, ALL))
    assert sorted(stats.column("entries").to_pylist()) == [7, 10]


def test_retired_blocks_stay_until_readers_finish(tmp_path):
    s = LogStore(tmp_path, StoreOptions(compaction=CompactionPolicy(fanout=2, idle_ns=0)))
    s.open()
    for i in range(2):
        _write(s, "a", 1000 + i * 10, 10)
        s.flush()
    old = _blocks(tmp_path)
    with s._snapshot("t"):
        s.compact()
        assert all(p.exists() for p in old)
    assert not any(p.exists() for p in old)
    assert len(_blocks(tmp_path)) == 1
    s.close()


def test_interrupted_replacement_recovers(tmp_path):
    s = LogStore(tmp_path)
    s.open()
    _write(s, "a", 1000, 10)
    s.flush()
    _write(s, "a", 2000, 10)
    s.flush()
    s.close()
    first, second = _blocks(tmp_path)
    bdir = first.parent
    # a journal whose new block never got renamed into place: rolled back
    (bdir / "1-2-abc.parquet.replaces").write_bytes(orjson.dumps([first.name]))
    # a journal naming no new block (everything deleted): completed
    (bdir / "none-x.replaces").write_bytes(orjson.dumps([second.name]))
    s2 = LogStore(tmp_path)
    s2.open()
    assert _blocks(tmp_path) == [first]
    assert not list(bdir.glob("*.replaces"))
    assert [ts // NS for _, ts, _ in _lines(s2)] == list(range(1000, 1010))
    s2.close()
