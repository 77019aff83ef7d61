"""Parquet blocks of log lines and the DuckDB SQL that reads them (blocks + head).

Layout under a tenant directory::

    blocks/{mint}-{maxt}-{uid}.parquet    sorted by (stream, ts), one of two formats:
      plain    columns of ENTRY_SCHEMA (head flushes: cheap to write)
      encoded  ENCODED_SCHEMA: lines as template + slot columns (see codec), a `unit` column
               (row number // skipindex.UNIT_ROWS) and the skip index in the key-value
               metadata (see skipindex); compaction and rewrites write this format

Files are written under a temporary name, fsynced and renamed, so readers never see a partial
file. Line filters arrive as `LineFilter`s and become `contains` / `regexp_matches` predicates
inside the scan (DuckDB's regular expressions are RE2, as Loki's); `contains` filters also pick
the units of encoded blocks to read, and only those rows are decoded.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pharos.storage.durable import fsync_path
from pharos.storage.logs import codec, skipindex
from pharos.storage.logs.wal import ENTRY_SCHEMA

ENCODED_SCHEMA = codec.ENCODED_SCHEMA.append(pa.field("unit", pa.uint32()))
ENCODED_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": ["tpl", "meta", *codec.SLOT_COLUMNS[: codec.DICT_SLOTS]],
    "column_encoding": {
        "stream": "DELTA_BINARY_PACKED",
        "ts": "DELTA_BINARY_PACKED",
        "unit": "DELTA_BINARY_PACKED",
    },
    "write_statistics": True,
    "data_page_size": 4 << 20,
}
BLOCK_OPTIONS: dict[str, object] = {  # plain blocks live until compaction encodes them: write fast
    "compression": "zstd",
    "compression_level": 1,
    "use_dictionary": ["meta"],
    "column_encoding": {"stream": "DELTA_BINARY_PACKED", "ts": "DELTA_BINARY_PACKED"},
    "write_statistics": True,
    "data_page_size": 4 << 20,
}
ROW_GROUP_ROWS = 256 * 1024


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
    encoded: bool = False


def parse_block(path: Path) -> Block | None:
    """Block info from a file name `{mint}-{maxt}-{uid}.parquet`, None if not a block."""
    parts = path.name.removesuffix(".parquet").split("-")
    if len(parts) != 3 or not path.name.endswith(".parquet"):
        return None
    try:
        encoded = "tpl" in pq.read_schema(path).names
        return Block(path, int(parts[0]), int(parts[1]), path.stat().st_size, encoded)
    except (ValueError, OSError):
        return None


@functools.lru_cache(maxsize=1024)
def skip_index(path: Path) -> skipindex.SkipIndex | None:
    """The skip index of an encoded block (files never change; names are unique)."""
    meta = pq.read_metadata(path).metadata or {}
    blob = meta.get(skipindex.KEY)
    return skipindex.SkipIndex(blob) if blob else None


def block_name(mint: int, maxt: int) -> str:
    """A fresh block file name for the time range [mint, maxt]."""
    return f"{mint}-{maxt}-{time.time_ns():x}{uuid.uuid4().hex[:6]}.parquet"


class BlockWriter:
    """Writes sorted parts into a temporary file (plain, or `encoded`); `commit()` renames it
    into a block."""

    def __init__(self, directory: Path, encoded: bool = False) -> None:
        self.directory = directory
        self.encoded = encoded
        self.tmp = directory / f".tmp-{uuid.uuid4().hex}.parquet"
        self._writer: pq.ParquetWriter | None = None
        self._units: list[bytes] = []
        self.mint, self.maxt, self.rows = 2**63 - 1, -(2**63), 0

    def write(self, table: pa.Table) -> None:
        """Append rows already sorted by (stream, ts) after everything written before: columns
        (stream, ts, line, meta), or for an encoded writer also the stored rows of `rows_sql`
        (rows already encoded are copied, the others encoded)."""
        if not table.num_rows:
            return
        if self._writer is None:
            schema, options = (
                (ENCODED_SCHEMA, ENCODED_OPTIONS) if self.encoded else (ENTRY_SCHEMA, BLOCK_OPTIONS)
            )
            self._writer = pq.ParquetWriter(self.tmp, schema, **options)  # type: ignore[arg-type]
        ts = table.column("ts")
        self.mint = min(self.mint, pa.compute.min(ts).as_py())
        self.maxt = max(self.maxt, pa.compute.max(ts).as_py())
        self.rows += table.num_rows
        if not self.encoded:
            self._writer.write_table(
                table.select(ENTRY_SCHEMA.names).cast(ENTRY_SCHEMA), row_group_size=ROW_GROUP_ROWS
            )
            return
        for start in range(0, table.num_rows, ROW_GROUP_ROWS):
            self._write_encoded(table.slice(start, ROW_GROUP_ROWS).combine_chunks())

    def _write_encoded(self, part: pa.Table) -> None:
        assert self._writer is not None
        unit = np.arange(part.num_rows, dtype=np.uint32) // skipindex.UNIT_ROWS + len(self._units)
        self._units.extend(skipindex.build(part.column("line")))
        table = _encoded_rows(part).append_column("unit", pa.array(unit, pa.uint32()))
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def commit(self, name: str | None = None) -> Block | None:
        """fsync and rename into place (None when nothing was written)."""
        if self._writer is None:
            return None
        if self.encoded:
            self._writer.add_key_value_metadata({skipindex.KEY: skipindex.serialise(self._units)})
        self._writer.close()
        fsync_path(self.tmp)
        path = self.directory / (name or block_name(self.mint, self.maxt))
        os.rename(self.tmp, path)
        fsync_path(self.directory)
        return Block(path, self.mint, self.maxt, path.stat().st_size, self.encoded)

    def abort(self) -> None:
        """Drop the temporary file."""
        if self._writer is not None:
            self._writer.close()
        self.tmp.unlink(missing_ok=True)


def _encoded_rows(part: pa.Table) -> pa.Table:
    """`part` in ENCODED_SCHEMA: stored rows with a template are kept, the others encoded."""
    entries = part.select(ENTRY_SCHEMA.names).cast(ENTRY_SCHEMA)
    if "tpl" not in part.column_names:
        return codec.encode(entries)
    todo = np.asarray(part.column("tpl").is_null(), dtype=bool)
    stored = part.select([*codec.ENCODED_SCHEMA.names[:3], "raw", *codec.ENCODED_SCHEMA.names[4:]])
    stored = stored.rename_columns(codec.ENCODED_SCHEMA.names).cast(codec.ENCODED_SCHEMA)
    if not todo.any():
        return stored
    new = codec.encode(entries.filter(pa.array(todo)))
    order = np.empty(part.num_rows, dtype=np.int64)
    order[np.flatnonzero(~todo)] = np.arange(int((~todo).sum()))
    order[np.flatnonzero(todo)] = int((~todo).sum()) + np.arange(len(new))
    return pa.concat_tables([stored.filter(pa.array(~todo)), new]).take(pa.array(order))


def write_block(directory: Path, table: pa.Table) -> Block:
    """Sort `table` by (stream, ts) and write it atomically as a new block."""
    writer = BlockWriter(directory)
    writer.write(table.sort_by([("stream", "ascending"), ("ts", "ascending")]))
    block = writer.commit()
    assert block is not None, "write_block needs rows"
    return block


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
    excludes: Sequence[Exclusion] = ()


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Rows hidden from reads: streams `ids` in [start, end] (ns, inclusive) matching `filters`
    (a pending delete request)."""

    ids: Sequence[int]
    start: int
    end: int
    filters: Sequence[LineFilter] = ()


def exclusion_sql(ex: Exclusion, params: list[object]) -> str:
    """`NOT (...)` predicate hiding the rows of one exclusion."""
    ids = ",".join(str(int(i)) for i in sorted(set(ex.ids)))
    conds = [
        f"stream IN ({ids})",
        f"ts BETWEEN {int(ex.start)} AND {int(ex.end)}",
        *filter_sql(ex.filters, params),
    ]
    return "NOT (" + " AND ".join(conds) + ")"


PLAIN_COLUMNS = "stream, ts, line, meta, strlen(line) AS nbytes"


def _files(blocks: Sequence[Block]) -> str:
    return "read_parquet([" + ", ".join(_sql_str(str(b.path)) for b in blocks) + "])"


def _decoded(blocks: Sequence[Block], where: str = "") -> str:
    args = "tpl, line, ts, struct_pack(" + ", ".join(codec.SLOT_COLUMNS) + ")"
    return (
        f"SELECT stream, ts, pharos_line({args}) AS line, meta, pharos_bytes({args}) AS nbytes "
        f"FROM {_files(blocks)}{where}"
    )


def _needles(filters: Sequence[LineFilter]) -> list[tuple[str, ...]]:
    """Or-chains of substrings every selected line must hold (non-negated `contains` filters)."""
    return [f.values for f in filters if f.op == "contains" and not f.negate]


def _runs(units: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive runs [lo, hi] of sorted unit numbers (BETWEEN filters rows inside the scan,
    before lines are decoded; IN lists only prune row groups)."""
    breaks = np.flatnonzero(np.diff(units) != 1) + 1
    return [(int(r[0]), int(r[-1])) for r in np.split(units, breaks) if len(r)]


def blocks_sql(blocks: Sequence[Block], filters: Sequence[LineFilter] = ()) -> list[str]:
    """SELECTs of (stream, ts, line, meta, nbytes) reading `blocks`; with `filters`, only the units of
    encoded blocks their skip indexes do not rule out."""
    plain = [b for b in blocks if not b.encoded]
    parts = [f"SELECT {PLAIN_COLUMNS} FROM {_files(plain)}"] if plain else []
    needles, whole = _needles(filters), []
    for b in (b for b in blocks if b.encoded):
        index = skip_index(b.path) if needles else None
        units = skipindex.candidate_units(index, needles) if index is not None else None
        if units is None or index is None or len(units) == len(index.units):
            whole.append(b)
        else:
            parts.extend(_decoded([b], f" WHERE unit BETWEEN {lo} AND {hi}") for lo, hi in _runs(units))
    if whole:
        parts.append(_decoded(whole))
    return parts


def rows_sql(blocks: Sequence[Block]) -> str | None:
    """A subquery of the stored rows of `blocks`: stream, ts, tpl, raw (the `line` column), meta,
    the slot columns, and `line` (the text, decoded only when a query uses it). Plain blocks'
    rows have a null template and their text in `raw`."""
    slots = ", ".join(codec.SLOT_COLUMNS)
    parts = []
    plain = [b for b in blocks if not b.encoded]
    if plain:
        nulls = ", ".join(f"NULL::VARCHAR AS {c}" for c in codec.SLOT_COLUMNS)
        parts.append(
            f"SELECT stream, ts, NULL::VARCHAR AS tpl, line AS raw, meta, {nulls}, line FROM {_files(plain)}"
        )
    encoded = [b for b in blocks if b.encoded]
    if encoded:
        parts.append(
            f"SELECT stream, ts, tpl, line AS raw, meta, {slots}, "
            f"pharos_line(tpl, line, ts, struct_pack({slots})) AS line FROM {_files(encoded)}"
        )
    return "(" + " UNION ALL ".join(parts) + ")" if parts else None


def source_sql(blocks: Sequence[Block], filters: Sequence[LineFilter] = ()) -> str | None:
    """A parenthesised subquery of (stream, ts, line, meta, nbytes) over `blocks`, None if nothing to read."""
    parts = blocks_sql(blocks, filters)
    return "(" + " UNION ALL ".join(parts) + ")" if parts else None


def _source_sql(blocks: Sequence[Block], head: pa.Table | None, filters: Sequence[LineFilter]) -> str:
    parts = blocks_sql(blocks, filters)
    if head is not None and (head.num_rows or not parts):
        parts.append(f"SELECT {PLAIN_COLUMNS} FROM head")
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
    conds.extend(exclusion_sql(ex, params) for ex in spec.excludes if ex.ids)
    return " AND ".join(conds)


def run_scan(
    con: duckdb.DuckDBPyConnection, blocks: Sequence[Block], head: pa.Table | None, spec: ScanSpec
) -> pa.Table:
    """Rows of `spec` from blocks and head; ordered by ts (direction) when a limit is given.
    Without rows the result still has the columns `spec` asks for."""
    blocks = [b for b in blocks if b.maxt >= spec.start and b.mint < spec.end] if spec.ids else []
    cur = con.cursor()
    try:
        head = head if head is not None else ENTRY_SCHEMA.empty_table()
        cur.register("head", head)
        source = _source_sql(blocks, head, spec.filters)
        if spec.limit is not None and any(b.encoded for b in blocks):
            spec = _narrowed(cur, source, spec)
        params: list[object] = []
        where = _where(spec, params, cur) if spec.ids else "FALSE"
        sql = f"SELECT {spec.columns} FROM ({source}) WHERE {where}"
        if spec.limit is not None:
            order = "DESC" if spec.direction == "backward" else "ASC"
            sql += f" ORDER BY ts {order}, stream LIMIT {int(spec.limit)}"
        return cur.sql(sql, params=params).to_arrow_table()
    finally:
        cur.close()


def _narrowed(cur: duckdb.DuckDBPyConnection, source: str, spec: ScanSpec) -> ScanSpec:
    """A limited scan whose predicates need no line text, with its time range cut to where its
    `limit` newest (backward) or oldest rows are: found from timestamps alone, so only about
    `limit` lines of encoded blocks get decoded."""
    if spec.filters or any(ex.filters for ex in spec.excludes) or not spec.limit:
        return spec
    params: list[object] = []
    order = "DESC" if spec.direction == "backward" else "ASC"
    sql = f"SELECT ts FROM ({source}) WHERE {_where(spec, params, cur)} ORDER BY ts {order} LIMIT 1 OFFSET {int(spec.limit) - 1}"
    rows = cur.sql(sql, params=params).fetchall()
    if not rows:
        return spec
    bound = int(rows[0][0])
    start, end = (
        (max(spec.start, bound), spec.end) if order == "DESC" else (spec.start, min(spec.end, bound + 1))
    )
    return dataclasses.replace(spec, start=start, end=end)


def run_aggregate(
    con: duckdb.DuckDBPyConnection, blocks: Sequence[Block], head: pa.Table | None, spec: ScanSpec
) -> pa.Table:
    """Per stream: entries, bytes, min and max ts of the rows `spec` selects."""
    agg = "stream, count(*) AS entries, sum(nbytes)::BIGINT AS bytes, min(ts) AS mint, max(ts) AS maxt"
    spec2 = ScanSpec(spec.ids, spec.start, spec.end, spec.filters, columns=agg, excludes=spec.excludes)
    blocks = [b for b in blocks if b.maxt >= spec.start and b.mint < spec.end]
    cur = con.cursor()
    try:
        if head is not None:
            cur.register("head", head)
        source = _source_sql(blocks, head, spec.filters)
        if not source or not spec.ids:
            return pa.table(
                {
                    "stream": pa.array([], pa.uint32()),
                    "entries": pa.array([], pa.int64()),
                    "bytes": pa.array([], pa.int64()),
                }
            )
        params: list[object] = []
        where = _where(spec2, params, cur)
        sql = f"SELECT {agg} FROM ({source}) WHERE {where} GROUP BY stream"
        return cur.sql(sql, params=params).to_arrow_table()
    finally:
        cur.close()
