"""Both WALs replay segments written by earlier releases (frozen bytes) and cut torn tails."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pyarrow as pa

from pharos.metrics.tsdb.wal import SAMPLES, SERIES, WAL, SampleRecord, encode_samples
from pharos.storage.logs.wal import ENTRIES, ENTRY_SCHEMA, STREAMS, LogWAL, encode_entries

# A metrics WAL segment (records at bytes 0, 83 and 129): SERIES [(0, up{job=a}), (1, up{job=b})], SAMPLES with one shared
# timestamp 1000 -> [1.0, 2.5], SAMPLES with timestamps [2000, 2001] -> [3.0, -0.5].
METRICS_SEGMENT = bytes.fromhex(
    "014a0000009a70a32502000000000000001b0000005b225f5f6e616d655f5f222c227570222c226a6f62222c"
    "2261225d010000001b0000005b225f5f6e616d655f5f222c227570222c226a6f62222c2262225d0225000000"
    "ddc9280b02000000010000000001000000e803000000000000000000000000f03f0000000000000440022d00"
    "0000b3be9a4e02000000000000000001000000d007000000000000d107000000000000000000000000084000"
    "0000000000e0bf"
)

# A log WAL segment (records at bytes 0 and 54): STREAMS t1 [(1, '{app="x"}')], then ENTRIES t1 with stream 1 lines
# (10, "hello", no metadata) and (20, "world", '{"k":"v"}').
LOGS_SEGMENT = base64.b64decode(
    "AS0AAAAiKR7geyJ0ZW5hbnQiOiJ0MSIsInN0cmVhbXMiOltbMSwie2FwcD1cInhcIn0iXV19AsQCAADRUaB0AgB0"
    "Mf////8QAQAAEAAAAAAACgAMAAYABQAIAAoAAAAAAQQADAAAAAgACAAAAAQACAAAAAQAAAAEAAAAqAAAAGAAAAAw"
    "AAAABAAAAHj///8AAAEFEAAAABgAAAAEAAAAAAAAAAQAAABtZXRhAAAAANj///+g////AAABBRAAAAAcAAAABAAA"
    "AAAAAAAEAAAAbGluZQAAAAAEAAQABAAAAMz///8AAAECEAAAABwAAAAEAAAAAAAAAAIAAAB0cwAACAAMAAgABwAI"
    "AAAAAAAAAUAAAAAQABQACAAGAAcADAAAABAAEAAAAAAAAQIQAAAAIAAAAAQAAAAAAAAABgAAAHN0cmVhbQAAAAAG"
    "AAgABAAGAAAAIAAAAAAAAAD/////OAEAABQAAAAAAAAADAAWAAYABQAIAAwADAAAAAADBAAYAAAAYAAAAAAAAAAA"
    "AAoAGAAMAAQACAAKAAAAvAAAABAAAAACAAAAAAAAAAAAAAAKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACAAA"
    "AAAAAAAIAAAAAAAAAAAAAAAAAAAACAAAAAAAAAAQAAAAAAAAABgAAAAAAAAAAAAAAAAAAAAYAAAAAAAAAAwAAAAA"
    "AAAAKAAAAAAAAAAKAAAAAAAAADgAAAAAAAAAAQAAAAAAAABAAAAAAAAAAAwAAAAAAAAAUAAAAAAAAAAJAAAAAAAA"
    "AAAAAAAEAAAAAgAAAAAAAAAAAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAACAAAAAAAAAAAAAAAAAAAAAgAAAAAAAAAB"
    "AAAAAAAAAAEAAAABAAAACgAAAAAAAAAUAAAAAAAAAAAAAAAFAAAACgAAAAAAAABoZWxsb3dvcmxkAAAAAAAAAgAA"
    "AAAAAAAAAAAAAAAAAAkAAAAAAAAAeyJrIjoidiJ9AAAAAAAAAP////8AAAAA"
)
TORN = b"\x02\xff\x00\x00\x00\x12\x34\x56\x78partial"


def _samples(rec: object) -> tuple[list[int], list[int], list[float]]:
    assert isinstance(rec, SampleRecord)
    return rec.refs.tolist(), rec.ts.tolist(), rec.values.tolist()


def test_metrics_wal_replays_frozen_segment(tmp_path: Path) -> None:
    (tmp_path / "00000001").write_bytes(METRICS_SEGMENT)
    records = list(WAL(tmp_path).replay())
    assert [kind for kind, _ in records] == [SERIES, SAMPLES, SAMPLES]
    assert records[0][1] == [(0, ["__name__", "up", "job", "a"]), (1, ["__name__", "up", "job", "b"])]
    assert _samples(records[1][1]) == ([0, 1], [1000], [1.0, 2.5])
    assert _samples(records[2][1]) == ([0, 1], [2000, 2001], [3.0, -0.5])


def test_logs_wal_replays_frozen_segment(tmp_path: Path) -> None:
    (tmp_path / "00000001").write_bytes(LOGS_SEGMENT)
    records = list(LogWAL(tmp_path).replay())
    assert [(kind, tenant) for kind, tenant, _ in records] == [(STREAMS, "t1"), (ENTRIES, "t1")]
    assert records[0][2] == [(1, '{app="x"}')]
    table = records[1][2]
    assert isinstance(table, pa.Table)
    assert table.schema == ENTRY_SCHEMA
    assert table.to_pylist() == [
        {"stream": 1, "ts": 10, "line": "hello", "meta": None},
        {"stream": 1, "ts": 20, "line": "world", "meta": '{"k":"v"}'},
    ]


def test_new_writes_are_the_frozen_bytes(tmp_path: Path) -> None:
    wal = WAL(tmp_path / "m")
    wal.start()
    wal.write(encode_samples(np.array([0, 1]), np.array([2000, 2001]), np.array([3.0, -0.5])))
    wal.close()
    assert (tmp_path / "m" / "00000001").read_bytes() == METRICS_SEGMENT[129:]
    logs = LogWAL(tmp_path / "l")
    logs.start()
    rows = {"stream": [1, 1], "ts": [10, 20], "line": ["hello", "world"], "meta": [None, '{"k":"v"}']}
    logs.write(encode_entries("t1", pa.RecordBatch.from_pydict(rows, schema=ENTRY_SCHEMA)))
    logs.close()
    assert (tmp_path / "l" / "00000001").read_bytes() == LOGS_SEGMENT[54:]


def test_torn_tail_is_cut_and_the_next_segment_still_replays(tmp_path: Path) -> None:
    (tmp_path / "00000001").write_bytes(METRICS_SEGMENT[:-10])
    (tmp_path / "00000002").write_bytes(METRICS_SEGMENT[:83] + TORN)
    kinds = [kind for kind, _ in WAL(tmp_path).replay()]
    assert kinds == [SERIES, SAMPLES, SERIES]
    assert (tmp_path / "00000001").stat().st_size == 129
    assert (tmp_path / "00000002").read_bytes() == METRICS_SEGMENT[:83]


def test_segments_cut_drop_and_replay_after(tmp_path: Path) -> None:
    (tmp_path / "00000001").write_bytes(LOGS_SEGMENT)
    logs = LogWAL(tmp_path, fsync_interval_s=0.01)
    logs.start()
    assert logs.segment == 2
    logs.write(LOGS_SEGMENT[:54])
    assert logs.cut() == 2
    logs.drop_through(2)
    logs.close()
    assert logs.segments() == [3]
    assert list(LogWAL(tmp_path).replay(after=3)) == []


def test_metrics_wal_rotates_by_size_and_keeps_open_segment(tmp_path: Path) -> None:
    wal = WAL(tmp_path, segment_bytes=100)
    wal.start()
    for _ in range(3):
        wal.write(METRICS_SEGMENT[83:])  # two SAMPLES records, 100 bytes: a new segment each time
    assert wal.segments() == [1, 2, 3, 4]
    assert wal.drop_below(10) == 300
    assert wal.segments() == [4]
    wal.close()
    assert wal.size_bytes() == 0
