"""The TSDB facade: the one object the rest of pharos uses to write and read samples.

Times are int64 milliseconds since the epoch; values are float64 (staleness markers are the
special NaN in pharos.metrics.model.STALE_NAN and round-trip bit-exactly).

Shape (an LSM tree): appends go to the WAL and the in-memory head; `maintain()` (a worker thread,
about once a minute) flushes the head every few minutes into small level-0 Parquet parts,
truncates the WAL behind them, compacts the parts of each closed block window (2h, aligned like
Prometheus) into one level-1 block, applies retention and picks up backfilled data. Queries
merge blocks, parts and head, keeping the first written sample on a (series, ts) conflict.

Data directory layout: see `pharos.storage.parquet` (blocks/, series/, import/) plus wal/.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from pharos.metrics.model import METRIC_NAME, Labels, Matcher
from pharos.metrics.tsdb import head as headmod
from pharos.metrics.tsdb.head import Head, make_batch
from pharos.metrics.tsdb.readscope import Flat, ReadScope
from pharos.metrics.tsdb.registry import SeriesRegistry
from pharos.metrics.tsdb.wal import SAMPLES, SERIES, WAL, SampleRecord, encode_samples, encode_series
from pharos.storage import blockread as br
from pharos.storage.backend import BlockInfo, SampleRun
from pharos.storage.parquet import ParquetBackend, sort_dedup

log = logging.getLogger("pharos.tsdb")
_EMPTY = (np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(0, np.float64))


def _sorted_newer_than(mem: SampleRun, disk: SampleRun) -> SampleRun | None:
    """Head samples sorted by (series, ts) when they are all newer than every disk sample and
    were appended in time order per series (the usual case), else None (a general merge)."""
    if len(disk) and int(mem.ts.min()) <= int(disk.ts.max()):
        return None
    order = np.argsort(mem.series, kind="stable")
    run = SampleRun(mem.series[order], mem.ts[order], mem.values[order])
    same = run.series[1:] == run.series[:-1]
    if (same & (run.ts[1:] <= run.ts[:-1])).any():
        return None
    return run


def _append_runs(first: SampleRun, second: SampleRun) -> SampleRun:
    """Merge two (series, ts)-sorted runs where each series' samples in `second` come later."""
    ids = np.union1d(np.unique(first.series), np.unique(second.series)).astype(np.uint32)
    parts = [
        br.Part(
            np.searchsorted(r.series, ids, side="right") - np.searchsorted(r.series, ids, side="left"),
            r.ts,
            r.values,
        )
        for r in (first, second)
    ]
    return br.merge_disjoint(ids, parts)


class TSDBLockedError(RuntimeError):
    """Another process has the data directory open."""


@dataclass
class TSDBOptions:
    block_duration_ms: int = 2 * 3600 * 1000
    retention_time_ms: int = 15 * 24 * 3600 * 1000
    retention_size_bytes: int = 0  # 0 = unlimited
    out_of_order_window_ms: int = 10 * 60 * 1000
    wal_fsync_interval_s: float = 1.0
    head_flush_interval_ms: int = 5 * 60 * 1000  # flush the head to a level-0 part this often
    head_max_samples: int = 8_000_000  # ... or when it holds this many samples
    consolidate_batches: int = 64  # concatenate head batches once this many accumulate
    read_cache_bytes: int = br.DEFAULT_CACHE_BYTES  # decoded block row groups kept for queries


@dataclass
class SeriesData:
    labels: Labels
    timestamps: np.ndarray  # int64 ms, ascending, unique
    values: np.ndarray  # float64


@dataclass
class AppendResult:
    appended: int
    out_of_order: int  # samples older than the OOO window (rejected)
    duplicate: int  # same timestamp, different value (rejected)
    out_of_bounds: int  # older than the head / retention (rejected)


class TSDB:
    def __init__(self, data_dir: Path, options: TSDBOptions | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.options = options or TSDBOptions()
        self._lock = threading.RLock()
        self._maintain_lock = threading.Lock()
        self.registry = SeriesRegistry()
        self.head = Head()
        self.wal = WAL(self.data_dir / "wal", self.options.wal_fsync_interval_s)
        self.backend: ParquetBackend | None = None
        self._pending_series: list[tuple[int, list[str]]] = []
        self._catalog_saved = 0
        self._readers = 0
        self._last_flush_ms: int | None = None
        self.samples_appended = 0
        self.samples_rejected = 0
        self.maxt_seen = headmod.NO_TS
        self._opened = False
        self._lock_fd: int | None = None
        self._local = threading.local()  # .scope: the thread's ReadScope, if any

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Load the catalog and blocks, replay the WAL (progress logged)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        started = time.monotonic()
        self.backend = ParquetBackend(self.data_dir, cache_bytes=self.options.read_cache_bytes)
        for ref, flat in self.backend.load_series():
            self._restore_series(ref, flat)
        self._catalog_saved = len(self.registry)
        log.info("series catalog: %d series loaded", len(self.registry))
        self._replay_wal()
        self.wal.start()
        for b in self.backend.blocks():
            self.maxt_seen = max(self.maxt_seen, b.maxt)
        self._restore_newest_from_disk()
        self.registry.refresh_order()
        self._opened = True
        log.info(
            "TSDB open: %d series, %d head samples, %d blocks in %.2fs",
            len(self.registry),
            self.head.num_samples,
            len(self.backend.blocks()),
            time.monotonic() - started,
        )

    def _take_lock(self) -> None:
        fd = os.open(self.data_dir / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            raise TSDBLockedError(f"{self.data_dir} is in use by another process") from e
        self._lock_fd = fd

    def _restore_series(self, ref: int, flat: list[str]) -> None:
        while len(self.registry) < ref:  # a gap should not happen; keep refs aligned if it does
            log.error("series ref %d missing from catalog/WAL", len(self.registry))
            self.registry.add(((METRIC_NAME, "pharos_lost_series"), ("ref", str(len(self.registry)))))
        if ref == len(self.registry):
            self.registry.add_flat(flat)
        self.head.ensure_series(len(self.registry))

    def _replay_wal(self) -> None:
        samples = 0
        for kind, rec in self.wal.replay():
            if kind == SERIES:
                for ref, flat in rec:  # type: ignore[attr-defined]
                    self._restore_series(ref, flat)
            elif kind == SAMPLES:
                assert isinstance(rec, SampleRecord)
                keep = rec.refs < len(self.registry)
                if not keep.all():
                    log.error("WAL samples for %d unknown series dropped", int((~keep).sum()))
                    rec = SampleRecord(
                        rec.refs[keep], rec.ts if len(rec.ts) == 1 else rec.ts[keep], rec.values[keep]
                    )
                if len(rec.refs):
                    self.head.add(make_batch(rec.refs, rec.ts, rec.values))
                    samples += len(rec.refs)
        self.maxt_seen = max(self.maxt_seen, self.head.maxt)
        log.info("WAL replay done: %d samples", samples)

    def _restore_newest_from_disk(self) -> None:
        """Per-series newest sample as of the last head flush (the WAL replay adds what came
        after), so duplicate and out-of-order checks hold across restarts."""
        assert self.backend is not None
        state = self.backend.load_series_state()
        if state is None:
            return
        last_ts, last_bits = state
        n = min(len(last_ts), len(self.registry))
        refs = np.arange(n)
        newer = last_ts[:n] > self.head.last_ts[:n]
        self.head.last_ts[refs[newer]] = last_ts[:n][newer]
        self.head.last_bits[refs[newer]] = last_bits[:n][newer]

    def close(self) -> None:
        """Flush the WAL (fsync) and release files. Does not cut a block."""
        with self._lock:
            self._write_pending_series()
            self.wal.close()
            self._opened = False
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # -- writing -----------------------------------------------------------------------------
    def get_ref(self, labels: Labels) -> int:
        """The series id for `labels`, creating the series (logged in the WAL) if new."""
        ref = self.registry.get(labels)
        return ref if ref is not None else self.get_refs([labels])[0]

    def get_refs(self, label_sets: Sequence[Labels]) -> list[int]:
        """The series ids for `label_sets`, creating the new ones under one lock acquisition
        (one registry batch, one WAL series record with the next append)."""
        known = [self.registry.get(labels) for labels in label_sets]
        if None not in known:
            return cast("list[int]", known)
        with self._lock:
            return self._add_series(label_sets)

    def _add_series(self, label_sets: Sequence[Labels]) -> list[int]:
        """Under the lock: the refs of `label_sets`, registering the unknown ones as a batch."""
        registry = self.registry
        new: dict[Labels, int] = {}
        refs = []
        for labels in label_sets:
            ref = registry.get(labels)
            if ref is None:
                ref = new.setdefault(labels, len(registry) + len(new))
            refs.append(ref)
        if new:
            first = registry.add_many(list(new))
            self.head.ensure_series(first + len(new))
            self._pending_series.extend((ref, SeriesRegistry.flatten(labels)) for labels, ref in new.items())
        return refs

    def _write_pending_series(self) -> None:
        if self._pending_series:
            self.wal.write(encode_series(self._pending_series))
            self._pending_series = []

    def append(self, refs: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> AppendResult:
        """Append samples; when this returns they are in the WAL (written, fsync on interval)
        and visible to queries.

        Per series: a newer timestamp is appended; the same timestamp and value again is a
        no-op; the same timestamp with another value is a duplicate (rejected); an older
        timestamp within `out_of_order_window_ms` of the series' newest is accepted, older
        than that is out of order (rejected); older than the retention is out of bounds.
        `timestamps` may have length 1 (shared by all samples)."""
        refs = np.asarray(refs, dtype=np.uint32)
        ts = np.asarray(timestamps, dtype=np.int64)
        vals = np.asarray(values, dtype=np.float64)
        if len(refs) == 0:
            return AppendResult(0, 0, 0, 0)
        if len(ts) not in (1, len(refs)) or len(vals) != len(refs):
            raise ValueError("append: refs, timestamps and values differ in length")
        scope = getattr(self._local, "scope", None)
        if scope is not None:
            scope.clear()
        with self._lock:
            if int(refs.max()) >= len(self.registry):
                raise ValueError("append: unknown series ref")
            return self._append_locked(refs, ts, vals)

    def _append_locked(self, refs: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> AppendResult:
        full_ts = np.broadcast_to(ts, refs.shape)
        ref_t = max(self.maxt_seen, int(ts.max()))
        min_valid = ref_t - self.options.retention_time_ms
        check = self.head.validate_slow if self.head.has_repeats(refs) else self.head.validate
        v = check(refs, full_ts, vals, self.options.out_of_order_window_ms, min_valid)
        accepted = int(v.accept.sum())
        if accepted:
            if accepted < len(refs):
                refs, vals = refs[v.accept], vals[v.accept]
                ts = ts if len(ts) == 1 else ts[v.accept]
            batch = make_batch(refs.copy(), ts.copy(), vals.copy())
            self._write_pending_series()
            self.wal.write(encode_samples(batch.refs, batch.ts, batch.values))
            self.head.add(batch)
            self.maxt_seen = max(self.maxt_seen, batch.maxt)
        self.samples_appended += accepted
        self.samples_rejected += v.out_of_order + v.duplicate + v.out_of_bounds
        return AppendResult(accepted, v.out_of_order, v.duplicate, v.out_of_bounds)

    # -- reading -----------------------------------------------------------------------------
    def _snapshot(self, mint: int, maxt: int) -> tuple[list[BlockInfo], list[headmod.Batch]]:
        """Under the lock: blocks and head batches to read."""
        assert self.backend is not None
        blocks = [b for b in self.backend.blocks() if b.maxt >= mint and b.mint <= maxt]
        self._readers += 1
        return blocks, self.head.snapshot()

    def _release(self) -> None:
        with self._lock:
            self._readers -= 1

    def _read(self, refs: np.ndarray, mint: int, maxt: int) -> SampleRun:
        """Merged, sorted, deduplicated samples of `refs` from blocks and head."""
        assert self.backend is not None
        with self._lock:
            blocks, batches = self._snapshot(mint, maxt)
        try:
            disk = self.backend.select(blocks, refs, mint, maxt)
            mem = headmod.collect(batches, refs, mint, maxt)
        finally:
            self._release()
        if len(mem) == 0:
            return disk
        newer = _sorted_newer_than(mem, disk)
        if newer is not None:
            return _append_runs(disk, newer) if len(disk) else newer
        run = SampleRun(
            np.concatenate([disk.series, mem.series]),
            np.concatenate([disk.ts, mem.ts]),
            np.concatenate([disk.values, mem.values]),
        )
        return sort_dedup(run)

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[SeriesData]:
        """All series matching every matcher with their samples in [mint, maxt]."""
        with self._lock:
            refs = self.registry.match(matchers)
        if len(refs) == 0:
            return []
        run = self._read(refs, mint, maxt)
        if len(run) == 0:
            return []
        starts = np.flatnonzero(np.concatenate(([True], run.series[1:] != run.series[:-1])))
        ends = np.append(starts[1:], len(run))
        out = []
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            labels = self.registry.labels(int(run.series[s]))
            out.append(SeriesData(labels, run.ts[s:e], run.values[s:e]))
        return out

    @contextmanager
    def read_scope(self, spans: dict[tuple[Matcher, ...], int]) -> Iterator[None]:
        """Within the block, this thread's `select_flat` calls read each matcher set once, at
        least `spans[matchers]` back (see `readscope`): for a group's rules at one timestamp."""
        self._local.scope = ReadScope(spans)
        try:
            yield
        finally:
            self._local.scope = None

    def select_flat(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> Flat:
        """Like `select`, as flat arrays: (labels sorted, timestamps, values, offsets) where
        series i's samples are [offsets[i], offsets[i + 1]) of the concatenated arrays."""
        scope = getattr(self._local, "scope", None)
        if scope is not None:
            return scope.select_flat(matchers, mint, maxt, self._select_flat)
        return self._select_flat(matchers, mint, maxt)

    def _select_flat(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> Flat:
        with self._lock:
            refs = self.registry.match(matchers)
        run = self._read(refs, mint, maxt) if len(refs) else SampleRun(*_EMPTY)
        if len(run) == 0:
            return [], np.zeros(0, np.int64), np.zeros(0), np.zeros(1, np.int64)
        starts = np.flatnonzero(np.concatenate(([True], run.series[1:] != run.series[:-1])))
        ends = np.append(starts[1:], len(run))
        refs = run.series[starts]
        order = self.registry.label_order(refs)
        if order is None:
            labels = [self.registry.labels(r) for r in refs.tolist()]
            order = np.array(sorted(range(len(labels)), key=labels.__getitem__), np.int64)
        lengths = ends - starts
        offsets = np.zeros(len(refs) + 1, np.int64)
        offsets[1:] = np.cumsum(lengths[order])
        labels = [self.registry.labels(r) for r in refs[order].tolist()]
        if (np.diff(order) == 1).all():
            return labels, run.ts, run.values, offsets
        idx = headmod.ranges(starts[order], ends[order])
        return labels, run.ts[idx], run.values[idx], offsets

    def _refs_with_data(self, matcher_sets: Sequence[Sequence[Matcher]], mint: int, maxt: int) -> np.ndarray:
        assert self.backend is not None
        with self._lock:
            refs = self.registry.match_any(matcher_sets)
            if len(refs) == 0:
                return refs
            blocks, batches = self._snapshot(mint, maxt)
        try:
            on_disk = self.backend.series_in(blocks, mint, maxt)
            mem = headmod.collect(batches, refs, mint, maxt)
        finally:
            self._release()
        present = np.union1d(on_disk, np.unique(mem.series))
        return np.intersect1d(refs, present)

    def series(self, matcher_sets: Sequence[Sequence[Matcher]], mint: int, maxt: int) -> list[Labels]:
        """Label sets of series matching any of the matcher sets with samples in [mint, maxt]."""
        refs = self._refs_with_data(matcher_sets, mint, maxt)
        return sorted(self.registry.labels(int(r)) for r in refs)

    def label_names(self, matcher_sets: Sequence[Sequence[Matcher]], mint: int, maxt: int) -> list[str]:
        refs = self._refs_with_data(matcher_sets, mint, maxt)
        return sorted(self.registry.label_names_of(refs.tolist()))

    def label_values(
        self, name: str, matcher_sets: Sequence[Sequence[Matcher]], mint: int, maxt: int
    ) -> list[str]:
        refs = self._refs_with_data(matcher_sets, mint, maxt)
        present = np.zeros(len(self.registry), dtype=bool)
        present[refs] = True
        values = []
        for value, plist in list(self.registry.values_of(name).items()):
            if present[np.array(plist, dtype=np.uint32)].any():
                values.append(value)
        return sorted(values)

    # -- maintenance -------------------------------------------------------------------------
    def maintain(self, now_ms: int) -> None:
        """Background housekeeping: cut blocks, compact, apply retention, truncate the WAL."""
        with self._maintain_lock:
            self._import_backfills()
            if self._flush_due(now_ms):
                self._flush_head(now_ms)
            else:
                self._consolidate_head()
            self._compact()
            self._apply_retention(now_ms)
            self._collect_garbage()
            assert self.backend is not None
            self.backend.compact_series_catalog()
            self.registry.refresh_order()

    def flush(self, now_ms: int) -> None:
        """Write the whole head to disk now (level-0 parts) and truncate the WAL."""
        with self._maintain_lock:
            if self.head.num_samples:
                self._flush_head(now_ms)

    def import_and_compact(self, now_ms: int) -> None:
        """Ingest pending backfill units and compact every window, closed or not (used by
        `pharos import` when no server runs). Retention is left to the server."""
        with self._maintain_lock:
            self._import_backfills()
            self._compact(force=True)
            self._collect_garbage()

    def _flush_due(self, now_ms: int) -> bool:
        h = self.head
        if h.num_samples == 0:
            return False
        if h.num_samples >= self.options.head_max_samples:
            return True
        if self._last_flush_ms is None:
            self._last_flush_ms = now_ms
        if now_ms - self._last_flush_ms >= self.options.head_flush_interval_ms:
            return True
        closed_before = self._closed_window_end()
        return h.mint < closed_before

    def _closed_window_end(self) -> int:
        """Windows ending at or before this time no longer take samples (OOO window passed)."""
        d = self.options.block_duration_ms
        t = self.maxt_seen - self.options.out_of_order_window_ms
        return t - t % d

    def _flush_head(self, now_ms: int) -> None:
        """Write the head to level-0 parts and truncate the WAL behind it."""
        assert self.backend is not None
        with self._lock:
            self._write_pending_series()
            keep_from = self.wal.cut()
            frozen = self.head.freeze()
            nseries = len(self.registry)
            last_ts = self.head.last_ts[:nseries].copy()
            last_bits = self.head.last_bits[:nseries].copy()
        self._save_catalog(nseries)
        self.backend.save_series_state(last_ts, last_bits)
        self._write_frozen(frozen)
        with self._lock:
            self.head.drop_frozen()
        freed = self.wal.drop_below(keep_from)
        self._last_flush_ms = now_ms
        flushed = sum(len(b) for b in frozen)
        log.info("head flushed: %d samples to level-0 parts, %d WAL bytes freed", flushed, freed)

    def _write_frozen(self, frozen: list[headmod.Batch]) -> None:
        """Write frozen batches one block window at a time: the flush's copies (gathered,
        sorted, encoded) are one window's, each freed before the next is gathered."""
        assert self.backend is not None
        d = self.options.block_duration_ms
        if not frozen:
            return
        for window in np.unique(np.concatenate([b.ts - b.ts % d for b in frozen])).tolist():
            self.backend.write_run(headmod.collect(frozen, None, window, window + d - 1), d, level=0)

    def _save_catalog(self, nseries: int) -> None:
        assert self.backend is not None
        if nseries <= self._catalog_saved:
            return
        with self._lock:
            flats = [
                SeriesRegistry.flatten(self.registry.labels(r)) for r in range(self._catalog_saved, nseries)
            ]
        self.backend.save_series(self._catalog_saved, flats)
        self._catalog_saved = nseries

    def _consolidate_head(self) -> None:
        with self._lock:
            batches = list(self.head.batches)
        if len(batches) < self.options.consolidate_batches:
            return
        merged = headmod.concat_batches(batches)
        with self._lock:
            if all(a is b for a, b in zip(self.head.batches, batches, strict=False)):
                self.head.batches[: len(batches)] = [merged]

    def _compact(self, force: bool = False) -> None:
        """Merge the files of each closed window (every window if `force`) into one block."""
        assert self.backend is not None
        closed = np.iinfo(np.int64).max if force else self._closed_window_end()
        by_window: dict[int, list[BlockInfo]] = {}
        for b in self.backend.blocks():
            by_window.setdefault(b.window, []).append(b)
        for window, files in sorted(by_window.items()):
            if window + self.options.block_duration_ms > closed:
                continue
            if len(files) == 1 and files[0].level >= 1:
                continue
            info = self.backend.compact(files)
            log.info(
                "compacted %d files of window %d into %s (%d bytes)",
                len(files),
                window,
                info.name,
                info.nbytes,
            )

    def _apply_retention(self, now_ms: int) -> None:
        assert self.backend is not None
        blocks = self.backend.blocks()
        cutoff = now_ms - self.options.retention_time_ms
        expired = [b for b in blocks if b.maxt < cutoff]
        if expired:
            log.info("retention: dropping %d blocks older than %d", len(expired), cutoff)
            self.backend.drop_blocks(expired)
        limit = self.options.retention_size_bytes
        if limit <= 0:
            return
        remaining = [b for b in self.backend.blocks() if b.level >= 1]
        total = self.backend.disk_bytes() + self.wal.size_bytes()
        drop: list[BlockInfo] = []
        while remaining and total > limit:
            oldest = remaining.pop(0)
            drop.append(oldest)
            total -= oldest.nbytes
        if drop:
            log.info("size retention: dropping %d blocks to stay under %d bytes", len(drop), limit)
            self.backend.drop_blocks(drop)

    def _collect_garbage(self) -> None:
        assert self.backend is not None
        with self._lock:
            idle = self._readers == 0
        if idle:
            self.backend.collect_garbage()

    def _import_backfills(self) -> None:
        """Ingest import units written by `pharos import` (this or another process)."""
        assert self.backend is not None
        for unit in self.backend.pending_imports():
            labels, run = self.backend.read_import(unit)
            with self._lock:
                mapping = np.array(self.get_refs([SeriesRegistry.canonical(f) for f in labels]), np.uint32)
                self._write_pending_series()
                nseries = len(self.registry)
            self._save_catalog(nseries)
            mapped = SampleRun(mapping[run.series], run.ts, run.values)
            written = self.backend.write_run(mapped, self.options.block_duration_ms, level=0)
            if len(run):
                self.maxt_seen = max(self.maxt_seen, int(run.ts.max()))
            self.backend.finish_import(unit)
            log.info(
                "imported %s: %d samples, %d series, %d files", unit.name, len(run), len(labels), len(written)
            )

    # -- statistics --------------------------------------------------------------------------
    def stats(self) -> dict:
        """Figures for /api/v1/status/tsdb (headStats, seriesCountByMetricName, ...) and for
        pharos' own metrics (under "pharos")."""
        assert self.backend is not None
        with self._lock:
            postings = self.registry.postings_items()
            h = self.head
            active = int((h.last_ts[: len(self.registry)] != headmod.NO_TS).sum())
            head_samples = h.num_samples + sum(len(b) for b in h.frozen)
            head_mint = min([b.mint for b in h.snapshot()], default=headmod.NO_TS)
        blocks = self.backend.blocks()
        by_name: Counter[str] = Counter()
        value_count: Counter[str] = Counter()
        memory: Counter[str] = Counter()
        pairs: Counter[str] = Counter()
        num_pairs = 0
        for name, values in postings:
            value_count[name] = len(values)
            num_pairs += len(values)
            for value, plist in list(values.items()):
                memory[name] += len(value.encode())
                pairs[f"{name}={value}"] = len(plist)
                if name == METRIC_NAME:
                    by_name[value] = len(plist)

        def top(c: Counter[str]) -> list[dict]:
            return [{"name": k, "value": v} for k, v in c.most_common(10)]

        return {
            "headStats": {
                "numSeries": len(self.registry),
                "numLabelPairs": num_pairs,
                "chunkCount": active,
                "minTime": head_mint if head_mint != headmod.NO_TS else 0,
                "maxTime": h.maxt if h.maxt != headmod.NO_TS else 0,
            },
            "seriesCountByMetricName": top(by_name),
            "labelValueCountByLabelName": top(value_count),
            "memoryInBytesByLabelName": top(memory),
            "seriesCountByLabelValuePair": top(pairs),
            "pharos": {
                "samples_appended_total": self.samples_appended,
                "samples_rejected_total": self.samples_rejected,
                "head_series": active,
                "head_samples": head_samples,
                "wal_bytes": self.wal.size_bytes(),
                "blocks": len(blocks),
                "blocks_level1": sum(1 for b in blocks if b.level >= 1),
                "disk_bytes": self.backend.disk_bytes(),
            },
        }
