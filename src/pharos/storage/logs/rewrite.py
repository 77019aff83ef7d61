"""Rewriting blocks: merge small blocks into larger ones (compaction) and drop rows (deletes,
per-stream retention), streaming through DuckDB one stream-id range at a time so memory stays
bounded by about one row group.

A rewrite replaces a set of blocks by one block (or none) crash-safely: the new file is written
under a temporary name, then a journal `{new}.replaces` (or `none-{uid}.replaces`) naming the old
files is written atomically, then the new file is renamed into place. On open, a journal whose new
block exists (or which names none) is completed by deleting the old files; otherwise it is
discarded and the old files stay. Either way a crash leaves the old set or the new one.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import orjson

from pharos.storage.durable import fsync_path
from pharos.storage.logs.blocks import ROW_GROUP_ROWS, Block, BlockWriter, block_name, rows_sql

JOURNAL_SUFFIX = ".replaces"


@dataclass(frozen=True)
class CompactionPolicy:
    """Size-tiered merging: blocks of one tier (sizes within a factor `fanout` of each other,
    everything below `base_bytes` is tier 0) are merged `fanout` at a time in time order, as long
    as the result stays below `max_bytes` and spans at most `max_span_ns`.

    Plain blocks (head flushes) take part only once the store has had no append for `idle_ns` or
    one of them is older than `plain_max_age_ns`: encoding costs CPU that ingestion needs. Then
    every plain block left out of a merge is rewritten alone, so all of them end up encoded."""

    fanout: int = 4
    base_bytes: int = 8 << 20
    max_bytes: int = 1 << 30
    max_span_ns: int = 24 * 3600 * 10**9
    idle_ns: int = 30 * 10**9
    plain_max_age_ns: int = 15 * 60 * 10**9


def _tier(block: Block, policy: CompactionPolicy) -> int:
    return int(math.log(max(block.nbytes, policy.base_bytes) / policy.base_bytes, policy.fanout))


def compaction_plan(
    blocks: Sequence[Block], policy: CompactionPolicy, encode_plain: bool = True
) -> list[list[Block]]:
    """Groups of blocks to rewrite: `fanout` blocks to merge, and with `encode_plain` each plain
    block no merge takes alone (without it, plain blocks are left out)."""
    groups = _merges([b for b in blocks if encode_plain or b.encoded], policy)
    if encode_plain:
        merged = {b.path for g in groups for b in g}
        groups += [[b] for b in blocks if not b.encoded and b.path not in merged]
    return groups


def _merges(blocks: Sequence[Block], policy: CompactionPolicy) -> list[list[Block]]:
    tiers: dict[int, list[Block]] = {}
    for b in sorted(blocks, key=lambda b: (b.mint, b.maxt)):
        tiers.setdefault(_tier(b, policy), []).append(b)
    groups: list[list[Block]] = []
    for members in tiers.values():
        run: list[Block] = []
        for b in members:
            run = [*run, b] if _fits([*run, b], policy) else [b]
            if len(run) == policy.fanout:
                groups.append(run)
                run = []
    return groups


def _fits(run: list[Block], policy: CompactionPolicy) -> bool:
    span = max(b.maxt for b in run) - min(b.mint for b in run)
    return sum(b.nbytes for b in run) <= policy.max_bytes and span <= policy.max_span_ns


def _ranges(counts: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Consecutive stream-id ranges of about ROW_GROUP_ROWS rows each."""
    out: list[tuple[int, int]] = []
    lo, acc = None, 0
    for sid, n in counts:
        if lo is None:
            lo = sid
        acc += n
        if acc >= ROW_GROUP_ROWS:
            out.append((lo, sid))
            lo, acc = None, 0
    if lo is not None:
        out.append((lo, counts[-1][0]))
    return out


def rewrite(
    cur: duckdb.DuckDBPyConnection,
    directory: Path,
    blocks: Sequence[Block],
    keep: str = "TRUE",
    params: Sequence[object] = (),
) -> BlockWriter:
    """Rows of `blocks` satisfying SQL `keep`, sorted by (stream, ts), into an uncommitted writer
    (encoded format: rows already encoded are copied, not encoded again)."""
    src = rows_sql(blocks)
    counts = cur.sql(
        f"SELECT stream, count(*) FROM {src} AS e WHERE {keep} GROUP BY stream ORDER BY stream",
        params=list(params),
    ).fetchall()
    writer = BlockWriter(directory, encoded=True)
    try:
        for lo, hi in _ranges([(int(s), int(n)) for s, n in counts]):
            sql = (
                f"SELECT * FROM {src} AS e WHERE stream BETWEEN {lo} AND {hi} AND ({keep}) "
                "ORDER BY stream, ts"
            )
            writer.write(cur.sql(sql, params=list(params)).to_arrow_table())
    except BaseException:
        writer.abort()
        raise
    return writer


def commit_replace(writer: BlockWriter, old: Sequence[Block]) -> tuple[Block | None, Path]:
    """Journal the replacement of `old`, then put the new block in place; returns it (None when
    no rows remained) and the journal path, to be removed once the old files are gone."""
    name = block_name(writer.mint, writer.maxt) if writer.rows else f"none-{uuid.uuid4().hex}"
    journal = writer.directory / (name + JOURNAL_SUFFIX)
    tmp = writer.directory / f".tmp-{journal.name}"
    with open(tmp, "wb") as f:
        f.write(orjson.dumps([b.path.name for b in old]))
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, journal)
    fsync_path(writer.directory)
    if not writer.rows:
        writer.abort()
        return None, journal
    return writer.commit(name), journal


def recover(directory: Path) -> None:
    """Finish or roll back the replacements a crash interrupted (see the module docstring)."""
    for journal in directory.glob("*" + JOURNAL_SUFFIX):
        new = journal.name.removesuffix(JOURNAL_SUFFIX)
        if new.startswith("none-") or (directory / new).exists():
            for name in orjson.loads(journal.read_bytes()):
                (directory / name).unlink(missing_ok=True)
        journal.unlink(missing_ok=True)
