"""The embedded log store: per-tenant streams, head + WAL, Parquet blocks read by DuckDB.

Data directory layout (`root` is e.g. `pharos-data/logs`)::

    LOCK                         flock: one process per directory
    wal/00000001 ...             see pharos.storage.logs.wal
    flushed                      number of the last WAL segment whose data is in blocks
    tenants/{tenant}/streams.json   catalog: [[id, [name, value, ...]], ...]
    tenants/{tenant}/blocks/*.parquet  see pharos.storage.logs.blocks
    tenants/{tenant}/blocks/*.replaces  see pharos.storage.logs.rewrite

A tenant id is validated (Loki's rules: [A-Za-z0-9!._*'()-], at most 150 characters, not "."
or "..") before it becomes a path component. `append` writes the WAL record before it returns;
`maintain` flushes heads into blocks, drops WAL segments behind them, applies retention (per
tenant and per stream selector) and merges small blocks. Blocks replaced while a query reads them
are unlinked once no reader holds a snapshot.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa

from pharos.storage.logs.blocks import (
    Block,
    BlockWriter,
    Exclusion,
    LineFilter,
    ScanSpec,
    exclusion_sql,
    parse_block,
    run_aggregate,
    run_scan,
    source_sql,
    write_block,
)
from pharos.storage.logs.codec import register
from pharos.storage.logs.rewrite import (
    CompactionPolicy,
    commit_replace,
    compaction_plan,
    recover,
    rewrite,
)
from pharos.storage.logs.wal import ENTRIES, ENTRY_SCHEMA, STREAMS, LogWAL, encode_entries, encode_streams

log = logging.getLogger("pharos.logs.store")

TENANT_RE = re.compile(r"^[A-Za-z0-9!._*'()\-]{1,150}$")
NANOS_PER_MS = 1_000_000
HOUR_NS = 3600 * 10**9
__all__ = ["InvalidTenantError", "LineFilter", "LogStore", "StoreOptions", "StreamWrite", "labels_key"]


class InvalidTenantError(ValueError):
    """A tenant id that Loki would refuse (and that must never become a path)."""


class StoreLockedError(RuntimeError):
    """Another process has the log directory open."""


def validate_tenant(tenant: str) -> str:
    """Return `tenant` if it is a valid Loki tenant id, else raise InvalidTenantError."""
    if not TENANT_RE.match(tenant) or tenant in (".", ".."):
        raise InvalidTenantError(f"tenant ID '{tenant[:150]}' contains unsupported characters or length")
    return tenant


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def labels_key(labels: dict[str, str]) -> str:
    """Canonical stream string `{a="1", b="2"}` (names sorted), as Loki prints streams."""
    return "{" + ", ".join(f"{k}={_quote(labels[k])}" for k in sorted(labels)) + "}"


LabelMatch = Callable[[dict[str, str]], bool]


@dataclass(frozen=True)
class StreamRule:
    """Retention for the streams `match` accepts (Loki's `retention_stream`): the matching rule
    with the highest priority wins, the longest period among equal priorities."""

    match: LabelMatch
    period_ns: int
    priority: int = 0


@dataclass(frozen=True)
class Hidden:
    """Rows reads must not return (a pending delete): streams `match` accepts, [start, end] ns
    inclusive, lines passing `filters`."""

    match: LabelMatch
    start: int
    end: int
    filters: tuple[LineFilter, ...] = ()


@dataclass
class StoreOptions:
    """Retention (0 = keep forever), head flush policy, WAL fsync interval, compaction."""

    retention_ns: int = 0
    tenant_retention_ns: dict[str, int] = field(default_factory=dict)
    stream_retention: list[StreamRule] = field(default_factory=list)
    tenant_stream_retention: dict[str, list[StreamRule]] = field(default_factory=dict)
    compaction: CompactionPolicy = field(default_factory=CompactionPolicy)
    retention_recheck_ns: int = 10 * 60 * 10**9  # per block, for row-level (per-stream) retention
    flush_interval_ns: int = 5 * 60 * 10**9
    head_max_bytes: int = 64 << 20
    fsync_interval_s: float = 1.0
    duckdb_threads: int = 2


@dataclass(slots=True)
class StreamWrite:
    """Validated lines of one stream for `LogStore.append` (ts ascending not required)."""

    labels: dict[str, str]
    ts: np.ndarray  # int64 ns
    lines: list[str]
    meta: list[str | None] | None = None  # JSON objects of structured metadata


@dataclass
class _Tenant:
    name: str
    dir: Path
    ids: dict[str, int] = field(default_factory=dict)
    labels: list[dict[str, str]] = field(default_factory=list)
    newest: dict[int, int] = field(default_factory=dict)
    last: dict[int, tuple[int, str]] = field(default_factory=dict)
    head: list[pa.RecordBatch] = field(default_factory=list)
    flushing: list[pa.RecordBatch] = field(default_factory=list)
    head_bytes: int = 0
    blocks: list[Block] = field(default_factory=list)
    saved: int = -1
    hidden: list[Hidden] = field(default_factory=list)

    @property
    def block_dir(self) -> Path:
        return self.dir / "blocks"


class LogStore:
    """Streams and lines of all tenants; thread-safe; open() before use."""

    def __init__(self, root: Path, options: StoreOptions | None = None) -> None:
        self.root = Path(root)
        self.options = options or StoreOptions()
        self._lock = threading.RLock()
        self._flush_lock = threading.Lock()
        self._tenants: dict[str, _Tenant] = {}
        self.wal = LogWAL(self.root / "wal", self.options.fsync_interval_s)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock_fd: int | None = None
        self._last_flush = time.time_ns()
        self.lines_appended = 0
        self._last_append = time.monotonic_ns()
        self._readers = 0
        self._retired: list[tuple[list[Path], Path]] = []
        self._rewrite_lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []
        self._rechecked: dict[Path, int] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def open(self) -> None:
        """Take the directory lock, load catalogs and blocks, replay the WAL."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        self._con = duckdb.connect(config={"threads": self.options.duckdb_threads})
        self._con.execute("SET parquet_metadata_cache = true")  # blocks never change; names are unique
        register(self._con)
        tdir = self.root / "tenants"
        tdir.mkdir(exist_ok=True)
        for path in sorted(tdir.iterdir()):
            if path.is_dir() and TENANT_RE.match(path.name) and path.name not in (".", ".."):
                self._load_tenant(path.name)
        replayed = self._replay()
        self.wal.start()
        log.info("log store open: %d tenants, %d WAL lines replayed", len(self._tenants), replayed)

    def _take_lock(self) -> None:
        fd = os.open(self.root / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            raise StoreLockedError(f"log store {self.root} is in use by another process") from e
        self._lock_fd = fd

    def _load_tenant(self, name: str) -> _Tenant:
        t = _Tenant(name, self.root / "tenants" / name)
        t.block_dir.mkdir(parents=True, exist_ok=True)
        for tmp in t.block_dir.glob(".tmp-*"):
            tmp.unlink(missing_ok=True)
        recover(t.block_dir)
        catalog = t.dir / "streams.json"
        if catalog.exists():
            for sid, flat in orjson.loads(catalog.read_bytes()):
                self._add_stream(t, dict(zip(flat[::2], flat[1::2], strict=True)), int(sid))
        t.saved = len(t.labels)
        t.blocks = sorted(filter(None, map(parse_block, t.block_dir.glob("*.parquet"))), key=lambda b: b.mint)
        self._restore_newest(t)
        self._tenants[name] = t
        return t

    def _restore_newest(self, t: _Tenant) -> None:
        if not t.blocks or self._con is None:
            return
        rows = self._con.sql(f"SELECT stream, max(ts) FROM {source_sql(t.blocks)} GROUP BY stream").fetchall()
        t.newest.update((int(s), int(ts)) for s, ts in rows)

    def _replay(self) -> int:
        flushed_file = self.root / "flushed"
        after = int(flushed_file.read_text()) if flushed_file.exists() else 0
        n = 0
        for kind, tenant, payload in self.wal.replay(after):
            t = self._tenants.get(tenant) or self._new_tenant(tenant)
            if kind == STREAMS:
                for sid, key in payload:  # type: ignore[attr-defined]
                    if sid >= len(t.labels):
                        self._add_stream(t, _parse_key(key), sid)
            elif kind == ENTRIES:
                for batch in payload.to_batches():  # type: ignore[attr-defined]
                    self._add_to_head(t, batch)
                    n += batch.num_rows
        return n

    def close(self) -> None:
        """Flush the heads into blocks, close the WAL and release the lock."""
        if self._con is None:
            return
        self.flush()
        self.wal.close()
        self._con.close()
        self._con = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- tenants and streams -------------------------------------------------------------------
    def _new_tenant(self, name: str) -> _Tenant:
        validate_tenant(name)
        t = _Tenant(name, self.root / "tenants" / name)
        t.block_dir.mkdir(parents=True, exist_ok=True)
        self._tenants[name] = t
        return t

    @staticmethod
    def _add_stream(t: _Tenant, labels: dict[str, str], sid: int) -> None:
        while len(t.labels) < sid:
            t.labels.append({})
        t.labels.append(labels)
        t.ids[labels_key(labels)] = sid

    def tenants(self) -> list[str]:
        """Known tenant ids."""
        with self._lock:
            return sorted(self._tenants)

    def streams(self, tenant: str) -> list[dict[str, str]]:
        """Labels of every stream of `tenant`, indexed by stream id."""
        with self._lock:
            t = self._tenants.get(validate_tenant(tenant))
            return list(t.labels) if t else []

    def stream_count(self, tenant: str) -> int:
        """Number of streams `tenant` has."""
        with self._lock:
            t = self._tenants.get(tenant)
            return len(t.labels) if t else 0

    def stream_state(self, tenant: str, key: str) -> tuple[int, tuple[int, str] | None] | None:
        """(newest ts, last (ts, line)) of a stream by canonical key, None if unknown."""
        with self._lock:
            t = self._tenants.get(tenant)
            sid = t.ids.get(key) if t else None
            if t is None or sid is None:
                return None
            return t.newest.get(sid, -(2**63)), t.last.get(sid)

    # -- writing -------------------------------------------------------------------------------
    def append(self, tenant: str, writes: Sequence[StreamWrite]) -> int:
        """Make `writes` durable (WAL) and queryable; returns the number of lines."""
        writes = [w for w in writes if len(w.lines)]
        if not writes:
            return 0
        with self._lock:
            t = self._tenants.get(tenant) or self._new_tenant(validate_tenant(tenant))
            new: list[tuple[int, str]] = []
            sids = [self._stream_id(t, w.labels, new) for w in writes]
            batch = _batch(sids, writes)
            record = (encode_streams(tenant, new) if new else b"") + encode_entries(tenant, batch)
            self.wal.write(record)
            self._add_to_head(t, batch)
            self._last_append = time.monotonic_ns()
            listeners = list(self._listeners)
        for notify in listeners:
            notify(tenant)
        return batch.num_rows

    def add_listener(self, fn: Callable[[str], None]) -> None:
        """Call `fn(tenant)` after every append (from the appending thread; keep it cheap)."""
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[str], None]) -> None:
        """Stop calling `fn`."""
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _stream_id(self, t: _Tenant, labels: dict[str, str], new: list[tuple[int, str]]) -> int:
        key = labels_key(labels)
        sid = t.ids.get(key)
        if sid is None:
            sid = len(t.labels)
            self._add_stream(t, dict(labels), sid)
            new.append((sid, key))
        return sid

    def _add_to_head(self, t: _Tenant, batch: pa.RecordBatch) -> None:
        t.head.append(batch)
        t.head_bytes += batch.nbytes
        self.lines_appended += batch.num_rows
        streams = batch.column(0).to_numpy()
        ts = batch.column(1).to_numpy()
        order = np.lexsort((ts, streams))
        s_sorted, ts_sorted = streams[order], ts[order]
        ends = np.flatnonzero(np.append(s_sorted[1:] != s_sorted[:-1], True))
        lines = batch.column(2)
        for e in ends:
            sid, newest = int(s_sorted[e]), int(ts_sorted[e])
            if newest >= t.newest.get(sid, -(2**63)):
                t.newest[sid] = newest
                t.last[sid] = (newest, lines[int(order[e])].as_py())

    # -- maintenance ---------------------------------------------------------------------------
    def maintain(self, now_ms: int | None = None) -> None:
        """Flush heads when due, apply retention, delete WAL segments behind blocks."""
        now_ns = time.time_ns() if now_ms is None else int(now_ms) * NANOS_PER_MS
        with self._lock:
            head_bytes = sum(t.head_bytes for t in self._tenants.values())
        if head_bytes and (
            head_bytes >= self.options.head_max_bytes
            or now_ns - self._last_flush >= self.options.flush_interval_ns
        ):
            self.flush()
        self.apply_retention(now_ns)
        self.compact()

    def flush(self) -> None:
        """Write every tenant's head into a block; then drop the WAL behind it."""
        with self._flush_lock:
            with self._lock:
                cut = self.wal.cut() if self.wal.segment else 0
                todo = [t for t in self._tenants.values() if t.head or t.saved != len(t.labels)]
                for t in todo:
                    t.flushing, t.head, t.head_bytes = t.head, [], 0
            for t in todo:
                self._flush_tenant(t)
            if cut:
                _write_atomic(self.root / "flushed", str(cut).encode())
                self.wal.drop_through(cut)
            self._last_flush = time.time_ns()

    def _flush_tenant(self, t: _Tenant) -> None:
        with self._lock:
            labels = [[sid, [x for kv in sorted(lb.items()) for x in kv]] for sid, lb in enumerate(t.labels)]
        if len(labels) != t.saved:
            _write_atomic(t.dir / "streams.json", orjson.dumps(labels))
            t.saved = len(labels)
        if not t.flushing:
            return
        block = write_block(t.block_dir, pa.Table.from_batches(t.flushing, ENTRY_SCHEMA))
        with self._lock:
            t.blocks.append(block)
            t.blocks.sort(key=lambda b: b.mint)
            t.flushing = []

    def retention_ns(self, tenant: str) -> int:
        """Retention period of `tenant` (0 = forever)."""
        return self.options.tenant_retention_ns.get(tenant, self.options.retention_ns)

    def apply_retention(self, now_ns: int) -> int:
        """Drop blocks older than each tenant's retention and rows of streams past their
        `retention_stream` period; returns the number of blocks dropped or rewritten."""
        with self._lock:
            tenants = list(self._tenants.values())
        return sum(self._retain_tenant(t, now_ns) for t in tenants)

    def stream_rules(self, tenant: str) -> list[StreamRule]:
        """The `retention_stream` rules of `tenant`."""
        return self.options.tenant_stream_retention.get(tenant, self.options.stream_retention)

    def _cutoffs(self, t: _Tenant, now_ns: int) -> np.ndarray:
        """Per stream id: the oldest timestamp kept (int64 min = forever)."""
        period = self.retention_ns(t.name)
        rules = self.stream_rules(t.name)
        with self._lock:
            labels = list(t.labels)
        out = np.full(len(labels), now_ns - period if period > 0 else -(2**63), dtype=np.int64)
        for sid, lb in enumerate(labels):
            best: StreamRule | None = None
            for r in rules:
                if r.match(lb) and (
                    best is None or (r.priority, r.period_ns) > (best.priority, best.period_ns)
                ):
                    best = r
            if best is not None:
                out[sid] = now_ns - best.period_ns if best.period_ns > 0 else -(2**63)
        return out

    def _retain_tenant(self, t: _Tenant, now_ns: int) -> int:
        """Whole blocks past every stream's cutoff are dropped; with `retention_stream` rules,
        blocks holding expired rows are rewritten (each at most once per retention_recheck_ns)."""
        cutoffs = self._cutoffs(t, now_ns)
        if not len(cutoffs) or int(cutoffs.max()) == -(2**63):
            return 0
        floor = int(cutoffs.max())
        with self._lock:
            whole = [b for b in t.blocks if b.maxt < int(cutoffs.min())]
            partial = [
                b
                for b in t.blocks
                if b.mint < floor
                and b not in whole
                and now_ns - self._rechecked.get(b.path, -(2**62)) >= self.options.retention_recheck_ns
            ]
        for b in whole:
            self._replace(t, [b], None)
        if not partial or not self.stream_rules(t.name):
            return len(whole)
        for b in partial:
            self._rechecked[b.path] = now_ns
        table = pa.table(
            {"stream": pa.array(np.arange(len(cutoffs)), pa.uint32()), "cutoff": pa.array(cutoffs)}
        )
        keep = (
            "ts >= coalesce((SELECT c.cutoff FROM cutoffs c WHERE c.stream = e.stream), -9223372036854775808)"
        )
        return len(whole) + self._rewrite_where(t, partial, keep, [], {"cutoffs": table})

    def _rewrite_where(
        self,
        t: _Tenant,
        blocks: list[Block],
        keep: str,
        params: list[object],
        tables: dict[str, pa.Table] | None = None,
    ) -> int:
        """Rewrite each block of `blocks` that has rows failing `keep`; returns how many."""
        done = 0
        with self._rewrite_lock:
            cur = self._cursor().cursor()
            try:
                for name, table in (tables or {}).items():
                    cur.register(name, table)
                for b in blocks:
                    src = source_sql([b])
                    row = cur.sql(
                        f"SELECT count(*), count(*) FILTER (WHERE {keep}) FROM {src} AS e", params=params
                    ).fetchall()[0]
                    if row is None or row[0] == row[1]:
                        continue
                    writer = rewrite(cur, t.block_dir, [b], keep, params) if row[1] else None
                    self._swap(t, [b], writer)
                    done += 1
            finally:
                cur.close()
        return done

    def _replace(self, t: _Tenant, old: list[Block], writer: BlockWriter | None) -> None:
        with self._rewrite_lock:
            self._swap(t, old, writer)

    def _swap(self, t: _Tenant, old: list[Block], writer: BlockWriter | None) -> None:
        """Journal and commit a replacement; old files are unlinked when no reader needs them."""
        new, journal = commit_replace(writer or BlockWriter(t.block_dir), old)
        with self._lock:
            names = {b.path for b in old}
            t.blocks = sorted(
                [b for b in t.blocks if b.path not in names] + ([new] if new else []), key=lambda b: b.mint
            )
            self._retired.append(([b.path for b in old], journal))
        self._reap()

    def _reap(self) -> None:
        with self._lock:
            if self._readers:
                return
            retired, self._retired = self._retired, []
        for paths, journal in retired:
            for path in paths:
                path.unlink(missing_ok=True)
            journal.unlink(missing_ok=True)

    def compact(self) -> int:
        """Merge small blocks (see CompactionPolicy); returns the number of merges."""
        merges = 0
        with self._lock:
            tenants = list(self._tenants.values())
        for t in tenants:
            with self._lock:
                groups = compaction_plan(t.blocks, self.options.compaction, self._plain_due(t.blocks))
            for group in groups:
                with self._rewrite_lock:
                    with self._lock:
                        if not all(b in t.blocks for b in group):
                            continue
                    cur = self._cursor().cursor()
                    try:
                        self._swap(t, group, rewrite(cur, t.block_dir, group))
                    finally:
                        cur.close()
                merges += 1
        return merges

    def _plain_due(self, blocks: Sequence[Block]) -> bool:
        """Whether plain blocks may be encoded now (see CompactionPolicy)."""
        policy = self.options.compaction
        if time.monotonic_ns() - self._last_append >= policy.idle_ns:
            return True
        oldest = min(
            (b.path.stat().st_mtime_ns for b in blocks if not b.encoded and b.path.exists()), default=None
        )
        return oldest is not None and time.time_ns() - oldest >= policy.plain_max_age_ns

    def delete(
        self, tenant: str, match: LabelMatch, start: int, end: int, filters: Sequence[LineFilter] = ()
    ) -> int:
        """Remove the lines of matching streams in [start, end] (ns, inclusive) passing `filters`
        from head and blocks; returns the number of blocks rewritten."""
        self.flush()
        with self._lock:
            t = self._tenants.get(validate_tenant(tenant))
            if t is None:
                return 0
            ids = [sid for sid, lb in enumerate(t.labels) if lb and match(lb)]
            blocks = [b for b in t.blocks if b.maxt >= start and b.mint <= end]
        if not ids or not blocks:
            return 0
        params: list[object] = []
        cond = exclusion_sql(Exclusion(ids, start, end, tuple(filters)), params)
        return self._rewrite_where(t, blocks, cond, params)

    def set_hidden(self, tenant: str, hidden: list[Hidden]) -> None:
        """Rows reads of `tenant` must skip (pending deletes); replaces the previous list."""
        with self._lock:
            t = self._tenants.get(validate_tenant(tenant)) or self._new_tenant(tenant)
            t.hidden = list(hidden)

    # -- reading -------------------------------------------------------------------------------
    @contextmanager
    def _snapshot(self, tenant: str) -> Iterator[tuple[list[Block], pa.Table | None, list[Exclusion]]]:
        """Blocks, head and hidden rows of `tenant`; blocks stay on disk until the exit."""
        with self._lock:
            t = self._tenants.get(validate_tenant(tenant))
            if t is None:
                blocks, head, hidden = [], None, []
            else:
                batches = t.flushing + t.head
                head = pa.Table.from_batches(batches, ENTRY_SCHEMA) if batches else None
                blocks = list(t.blocks)
                hidden = [
                    Exclusion(
                        [i for i, lb in enumerate(t.labels) if lb and h.match(lb)], h.start, h.end, h.filters
                    )
                    for h in t.hidden
                ]
            self._readers += 1
        try:
            yield blocks, head, hidden
        finally:
            with self._lock:
                self._readers -= 1
            self._reap()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise RuntimeError("log store is not open")
        return self._con

    def scan(self, tenant: str, spec: ScanSpec) -> pa.Table:
        """Lines (stream, ts, line, meta) of `spec`; ordered and limited if spec.limit is set."""
        with self._snapshot(tenant) as (blocks, head, hidden):
            spec.excludes = hidden
            return run_scan(self._cursor(), blocks, head, spec)

    def stream_stats(self, tenant: str, spec: ScanSpec) -> pa.Table:
        """Per stream (stream, entries, bytes, mint, maxt) of the lines `spec` selects."""
        with self._snapshot(tenant) as (blocks, head, hidden):
            spec.excludes = hidden
            return run_aggregate(self._cursor(), blocks, head, spec)

    def active_streams(self, tenant: str, ids: Sequence[int], start: int, end: int) -> list[int]:
        """Ids among `ids` with at least one line in [start, end)."""
        with self._snapshot(tenant) as (blocks, head, hidden):
            spec = ScanSpec(ids, start, end, columns="DISTINCT stream", excludes=hidden)
            table = run_scan(self._cursor(), blocks, head, spec)
        return sorted(int(x) for x in table.column(0).to_pylist())

    def disk_bytes(self, tenant: str | None = None) -> int:
        """Bytes of blocks (one tenant or all)."""
        with self._lock:
            ts = (
                [self._tenants[tenant]]
                if tenant in self._tenants
                else ([] if tenant else list(self._tenants.values()))
            )
            return sum(b.nbytes for t in ts for b in t.blocks)


def _batch(sids: list[int], writes: Sequence[StreamWrite]) -> pa.RecordBatch:
    lens = [len(w.lines) for w in writes]
    stream = np.repeat(np.asarray(sids, dtype=np.uint32), lens)
    ts = np.concatenate([np.asarray(w.ts, dtype=np.int64) for w in writes])
    lines = [x for w in writes for x in w.lines]
    if all(w.meta is None for w in writes):
        meta = pa.nulls(len(lines), pa.string())
    else:
        meta = pa.array([x for w in writes for x in (w.meta or [None] * len(w.lines))], pa.string())
    return pa.record_batch(
        [pa.array(stream, pa.uint32()), pa.array(ts, pa.int64()), pa.array(lines, pa.string()), meta],
        schema=ENTRY_SCHEMA,
    )


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


_KEY_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_.]*)="((?:[^"\\]|\\.)*)"')


def _parse_key(key: str) -> dict[str, str]:
    """Inverse of labels_key."""

    def unq(v: str) -> str:
        return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)

    return {m.group(1): unq(m.group(2)) for m in _KEY_RE.finditer(key)}
