"""Parquet blocks of log lines and the DuckDB SQL that reads them (blocks + head).

Layout under a tenant directory::

    blocks/{mint}-{maxt}-{uid}.parquet    columns of ENTRY_SCHEMA, sorted by (stream, ts)

Files are written under a temporary name, fsynced and renamed, so readers never see a partial
file. Line filters arrive as `LineFilter`s and become `contains` / `regexp_matches` predicates
inside the scan (DuckDB's regular expressions are RE2, as Loki's).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pharos.storage.logs.wal import ENTRY_SCHEMA

BLOCK_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 6,
    "use_dictionary": ["meta"],
    "column_encoding": {"stream": "DELTA_BINARY_PACKED", "ts": "DELTA_BINARY_PACKED"},
    "row_group_size": 256 * 1024,
    "write_statistics": True,
}


@dataclass(frozen=True, slots=True)
class LineFilter:
    """One pushed-down line filter: `op` is contains / regex (any of `values` matches),
    `negate` inverts the whole or-chain."""

    op: str
    values: tuple[str, ...]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Block:
    """One immutable Parquet file of a tenant."""

    path: Path
    mint: int
    maxt: int
    nbytes: int


def parse_block(path: Path) -> Block | None:
    """Block info from a file name `{mint}-{maxt}-{uid}.parquet`, None if not a block."""
    parts = path.name.removesuffix(".parquet").split("-")
    if len(parts) != 3 or not path.name.endswith(".parquet"):
        return None
    try:
        return Block(path, int(parts[0]), int(parts[1]), path.stat().st_size)
    except (ValueError, OSError):
        return None


def write_block(directory: Path, table: pa.Table) -> Block:
    """Sort `table` by (stream, ts) and write it atomically as a new block."""
    table = table.sort_by([("stream", "ascending"), ("ts", "ascending")])
    ts = table.column("ts")
    mint, maxt = pa.compute.min(ts).as_py(), pa.compute.max(ts).as_py()
    name = f"{mint}-{maxt}-{time.time_ns():x}{uuid.uuid4().hex[:6]}.parquet"
    path = directory / name
    tmp = directory / f".tmp-{name}"
    pq.write_table(table.cast(ENTRY_SCHEMA), tmp, **BLOCK_OPTIONS)  # type: ignore[arg-type]
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return Block(path, mint, maxt, path.stat().st_size)


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def filter_sql(filters: Sequence[LineFilter], params: list[object]) -> list[str]:
    """SQL predicates for line filters; their arguments are appended to `params`."""
    out = []
    for f in filters:
        fn = "contains" if f.op == "contains" else "regexp_matches"
        parts = []
        for v in f.values:
            parts.append(f"{fn}(line, ?)")
            params.append(v)
        expr = "(" + " OR ".join(parts) + ")"
        out.append(f"NOT {expr}" if f.negate else expr)
    return out


@dataclass(slots=True)
class ScanSpec:
    """What to read: stream ids, [start, end) in ns, pushed filters, order and limit."""

    ids: Sequence[int]
    start: int
    end: int
    filters: Sequence[LineFilter] = ()
    direction: str = "backward"
    limit: int | None = None
    columns: str = "stream, ts, line, meta"


def _source_sql(blocks: Sequence[Block], head: pa.Table | None) -> str:
    parts = []
    if blocks:
        files = ", ".join(_sql_str(str(b.path)) for b in blocks)
        parts.append(f"SELECT stream, ts, line, meta FROM read_parquet([{files}])")
    if head is not None and head.num_rows:
        parts.append("SELECT stream, ts, line, meta FROM head")
    return " UNION ALL ".join(parts)


def _where(spec: ScanSpec, params: list[object], cur: duckdb.DuckDBPyConnection) -> str:
    conds = [f"ts >= {int(spec.start)}", f"ts < {int(spec.end)}"]
    ids = sorted(set(int(i) for i in spec.ids))
    conds.append(f"stream BETWEEN {ids[0]} AND {ids[-1]}")
    if len(ids) <= 256:
        conds.append(f"stream IN ({','.join(map(str, ids))})")
    else:
        cur.register("wanted", pa.table({"id": pa.array(ids, pa.uint32())}))
        conds.append("stream IN (SELECT id FROM wanted)")
    conds.extend(filter_sql(spec.filters, params))
    return " AND ".join(conds)


def run_scan(
    con: duckdb.DuckDBPyConnection, blocks: Sequence[Block], head: pa.Table | None, spec: ScanSpec
) -> pa.Table:
    """Rows of `spec` from blocks and head; ordered by ts (direction) when a limit is given."""
    blocks = [b for b in blocks if b.maxt >= spec.start and b.mint < spec.end]
    if not spec.ids:
        return ENTRY_SCHEMA.empty_table()
    cur = con.cursor()
    try:
        if head is not None:
            cur.register("head", head)
        source = _source_sql(blocks, head)
        if not source:
            return ENTRY_SCHEMA.empty_table()
        params: list[object] = []
        where = _where(spec, params, cur)
        sql = f"SELECT {spec.columns} FROM ({source}) WHERE {where}"
        if spec.limit is not None:
            order = "DESC" if spec.direction == "backward" else "ASC"
            sql += f" ORDER BY ts {order}, stream LIMIT {int(spec.limit)}"
        return cur.sql(sql, params=params).to_arrow_table()
    finally:
        cur.close()


def run_aggregate(
    con: duckdb.DuckDBPyConnection, blocks: Sequence[Block], head: pa.Table | None, spec: ScanSpec
) -> pa.Table:
    """Per stream: entries, bytes, min and max ts of the rows `spec` selects."""
    agg = "stream, count(*) AS entries, sum(strlen(line))::BIGINT AS bytes, min(ts) AS mint, max(ts) AS maxt"
    spec2 = ScanSpec(spec.ids, spec.start, spec.end, spec.filters, columns=agg)
    blocks = [b for b in blocks if b.maxt >= spec.start and b.mint < spec.end]
    cur = con.cursor()
    try:
        if head is not None:
            cur.register("head", head)
        source = _source_sql(blocks, head)
        if not source or not spec.ids:
            return pa.table({"stream": pa.array([], pa.uint32()), "entries": pa.array([], pa.int64()),
                             "bytes": pa.array([], pa.int64())})
        params: list[object] = []
        where = _where(spec2, params, cur)
        sql = f"SELECT {agg} FROM ({source}) WHERE {where} GROUP BY stream"
        return cur.sql(sql, params=params).to_arrow_table()
    finally:
        cur.close()
