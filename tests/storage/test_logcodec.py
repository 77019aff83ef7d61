"""The encoded block format of the log store: lines come back byte for byte, the skip index never
hides a line that holds the needle."""

from __future__ import annotations

import random
import re
import time

import duckdb
import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from pharos.storage.logs import LineFilter, LogStore, ScanSpec, StoreOptions, StreamWrite, codec, skipindex
from pharos.storage.logs.blocks import BlockWriter, parse_block, source_sql
from pharos.storage.logs.rewrite import CompactionPolicy

NS = 1_000_000_000
FRAGMENTS = [
    '{"',
    '":"',
    '":',
    '",',
    "}",
    "\\",
    '\\"',
    "\x11",
    "\x11p",
    "\x11s",
    "\x110",
    "0",
    "7f3a",
    "12.5",
    "1732612345.123456",
    " ",
    "\n",
    "\t",
    "é",
    "日本",
    "\U0001f600",
    "-",
    "id",
    "level",
    "a1b2c3",
    "\x00",
]
line_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(FRAGMENTS), max_size=14).map("".join),
    st.builds(
        lambda k, v, n: '{"' + k + '":"' + v + '","n":' + str(n) + "}",
        st.text(max_size=8),
        st.text(max_size=12),
        st.integers(),
    ),
)


def _table(lines: list[str], ts: list[int]) -> pa.Table:
    return pa.table(
        {
            "stream": pa.array([0] * len(lines), pa.uint32()),
            "ts": pa.array(ts, pa.int64()),
            "line": pa.array(lines, pa.string()),
            "meta": pa.nulls(len(lines), pa.string()),
        }
    )


def _decode_sql(enc: pa.Table) -> list[str]:
    """Lines back through SQL; checks `pharos_bytes` against their UTF-8 lengths on the way."""
    con = duckdb.connect()
    codec.register(con)
    con.register("enc", enc)
    args = "tpl, line, ts, struct_pack(" + ", ".join(codec.SLOT_COLUMNS) + ")"
    rows = con.sql(f"SELECT pharos_line({args}), pharos_bytes({args}) FROM enc").fetchall()
    assert [n for _, n in rows] == [len(line.encode()) for line, _ in rows]
    return [line for line, _ in rows]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(line_text, st.integers(-(2**63), 2**63 - 1)), min_size=1, max_size=12),
    st.integers(1, 80),
)
def test_any_lines_round_trip(rows, repeat):
    """Arbitrary text, odd bytes, markers and JSON look-alikes survive encode + decode; repeating
    the batch makes contexts frequent enough to get slot columns."""
    lines = [line for line, _ in rows] * repeat
    ts = [t for _, t in rows] * repeat
    enc = codec.encode(_table(lines, ts))
    assert _decode_sql(enc) == lines


@settings(max_examples=200, deadline=None)
@given(st.lists(line_text, min_size=1, max_size=8), st.integers(0, 3))
def test_variables_are_what_the_pattern_finds(lines, skip):
    """The vectorised tokeniser finds exactly the matches of VAR_RE (ASCII classes, as RE2),
    also in a sliced array, and its parts and variables put together give the lines back."""
    arr = pa.array(["x"] * skip + lines, pa.string()).slice(skip)
    split = codec._Split(arr)
    values = split.values.to_pylist()
    assert values == [m for line in lines for m in re.findall(codec.VAR_RE, line, re.ASCII)]
    parts = split.parts.to_pylist()
    for i, line in enumerate(lines):
        lo, hi = int(split.var_offsets[i]), int(split.var_offsets[i + 1])
        own = parts[lo + i : hi + i + 1]
        assert "".join(p + v for p, v in zip(own, [*values[lo:hi], ""], strict=True)) == line


def test_repetitive_json_uses_slots_and_derived_timestamps():
    rng = random.Random(3)
    ts = [1_732_612_345 * NS + i * 500_000_123 + rng.randrange(1000) for i in range(500)]
    lines = [
        '{"level":"info","ts":' + f"{t / NS:.6f}" + f',"request_id":"{rng.getrandbits(64):016x}",'
        f'"user_id":{rng.randint(1, 50000)}' + "}"
        for t in ts
    ]
    enc = codec.encode(_table(lines, ts))
    tpl = enc.column("tpl").to_pylist()
    assert all(t is not None and re.search("\x11[s-u]", t) for t in tpl)  # the ts is derived, not stored
    assert len(set(tpl)) <= 3  # exact, or float formatting one microsecond off either way
    assert enc.column("v00").null_count == 0
    assert enc.column("line").null_count == len(lines)
    assert _decode_sql(enc) == lines


def test_calendar_fields_of_the_timestamp_are_derived():
    ts = [1_764_200_000 * NS + i * 1_700_000_123 for i in range(300)]
    lines = [
        time.strftime("[%d/%b/%Y:%H:%M:%S +0000] GET /", time.gmtime(t // NS))
        + time.strftime(" java %Y-%m-%d %H:%M:%S", time.gmtime(t // NS))
        + f".{t // 1_000_000 % 1000:03d} INFO"
        for t in ts
    ]
    enc = codec.encode(_table(lines, ts))
    stored = {v for c in codec.SLOT_COLUMNS for v in enc.column(c).drop_null().to_pylist()}
    assert stored == {"0000"}  # only the zone offset; every date and time field is derived
    assert all(t is not None and "\x11'" in t for t in enc.column("tpl").to_pylist())  # seconds.millis
    assert _decode_sql(enc) == lines


def test_lines_holding_the_marker_are_stored_whole():
    lines = ["a\x11b 12", "plain 12"] * 40
    enc = codec.encode(_table(lines, list(range(80))))
    assert enc.column("line").to_pylist()[:2] == ["a\x11b 12", None]
    assert _decode_sql(enc) == lines


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=50), st.data())
def test_skip_index_never_hides_a_needle(lines, data):
    """A substring of any line is always found in that line's unit."""
    lines = lines * 400  # several units
    index = skipindex.SkipIndex(skipindex.serialise(skipindex.build(pa.array(lines))))
    row = data.draw(st.integers(0, len(lines) - 1))
    line = lines[row]
    a = data.draw(st.integers(0, len(line) - 1))
    b = data.draw(st.integers(a + 1, len(line)))
    assert index.may_contain(line[a:b].encode())[row // skipindex.UNIT_ROWS]


def test_skip_index_rules_out_units_without_the_needle():
    lines = [f"GET /api/v1/items/{i} took {i % 97} ms" for i in range(3 * skipindex.UNIT_ROWS)]
    lines[skipindex.UNIT_ROWS + 5] += " needle-7f3a9c"
    index = skipindex.SkipIndex(skipindex.serialise(skipindex.build(pa.array(lines))))
    assert skipindex.candidate_units(index, [("needle-7f3a9c",)]).tolist() == [1]
    assert skipindex.candidate_units(index, [("needle-7f3a9c", "items")]).tolist() == [0, 1, 2]
    assert skipindex.candidate_units(index, [("7f3a",)]).tolist() == [0, 1, 2]  # no indexed gram: all


def test_encoded_block_reads_and_filters_like_the_lines(tmp_path):
    rng = random.Random(5)
    lines = [f'{{"msg":"req {rng.getrandbits(40):x}","n":{i}}}' for i in range(3 * skipindex.UNIT_ROWS)]
    lines[7] = "odd \x11 line with needle-7f3a9c"
    lines[2 * skipindex.UNIT_ROWS + 1] += " needle-7f3a9c"
    ts = np.arange(len(lines), dtype=np.int64) * 1000 + 1
    writer = BlockWriter(tmp_path, encoded=True)
    writer.write(_table(lines, ts.tolist()))
    block = writer.commit()
    assert block is not None and block.encoded
    assert parse_block(block.path) == block
    con = duckdb.connect()
    codec.register(con)
    assert [r[0] for r in con.sql(f"SELECT line FROM {source_sql([block])} ORDER BY ts").fetchall()] == lines
    needle = [LineFilter("contains", ("needle-7f3a9c",))]
    sql = f"SELECT ts FROM {source_sql([block], needle)} WHERE contains(line, 'needle-7f3a9c') ORDER BY ts"
    assert [r[0] for r in con.sql(sql).fetchall()] == [7001, (2 * skipindex.UNIT_ROWS + 1) * 1000 + 1]
    assert (source_sql([block], needle) or "").count("unit BETWEEN") == 2


def test_compacted_store_returns_identical_lines(tmp_path):
    store = LogStore(tmp_path, StoreOptions(compaction=CompactionPolicy(idle_ns=0)))
    store.open()
    try:
        lines = [
            f"line {i} é \x11 {i * 7}" if i % 50 == 0 else f'{{"i":{i},"s":"x{i % 5}"}}' for i in range(2000)
        ]
        for part in range(4):
            chunk = lines[part * 500 : (part + 1) * 500]
            ts = np.arange(part * 500, (part + 1) * 500, dtype=np.int64) + 10
            store.append("t", [StreamWrite({"app": "a"}, ts, chunk)])
            store.flush()
        assert store.compact() == 1
        assert all(b.encoded for b in store._tenants["t"].blocks)
        got = store.scan("t", ScanSpec([0], 0, 10**6, direction="forward", limit=5000))
        assert got.column("line").to_pylist() == lines
        newest = store.scan("t", ScanSpec([0], 0, 10**6, direction="backward", limit=7))
        assert newest.column("line").to_pylist() == lines[::-1][:7]
        oldest = store.scan("t", ScanSpec([0], 0, 10**6, direction="forward", limit=3))
        assert oldest.column("line").to_pylist() == lines[:3]
        hit = store.scan("t", ScanSpec([0], 0, 10**6, [LineFilter("contains", ("\x11 350",))]))
        assert hit.column("line").to_pylist() == [x for x in lines if "\x11 350" in x]
    finally:
        store.close()
