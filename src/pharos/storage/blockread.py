"""Selective reads of block files without SQL: row-group pruning plus a decoded-row-group cache.

A block file is sorted by (series, ts) and cut into row groups whose statistics give each one's
series and time range. A selection of series ids in [mint, maxt]:

1. keeps the row groups whose series range holds a wanted id and whose time range meets
   [mint, maxt] (statistics read once per file and kept),
2. decodes each kept row group once into numpy arrays (series, ts, float value) held in an LRU
   cache bounded in bytes (blocks are immutable; the cache is keyed by file name),
3. finds each wanted series' run with `searchsorted` on the sorted series column and narrows it
   to [mint, maxt] with a vectorised binary search on ts, then gathers the runs.

The output of one file is sorted by (series, ts). Runs of several files whose time ranges do
not overlap are merged by placing each file's run of a series after the earlier files' runs
(`merge_disjoint`), an O(samples) scatter instead of a sort.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pharos.storage.backend import SampleRun

DEFAULT_CACHE_BYTES = 384 << 20


@dataclass(frozen=True, slots=True)
class RowGroupStats:
    """Where each row group of a file lies in (series, ts)."""

    smin: np.ndarray  # uint32 per row group
    smax: np.ndarray
    tmin: np.ndarray  # int64 per row group
    tmax: np.ndarray
    scale: int  # value_i / 10**scale is the value where value_i is not null


@dataclass(frozen=True, slots=True)
class Decoded:
    """One row group as numpy arrays, sorted by (series, ts)."""

    series: np.ndarray  # uint32
    ts: np.ndarray  # int64
    values: np.ndarray  # float64
    tmin: int
    tmax: int

    @property
    def nbytes(self) -> int:
        return int(self.series.nbytes + self.ts.nbytes + self.values.nbytes)


@dataclass(slots=True)
class Part:
    """The samples of one file for sorted unique ids: ts/values concatenated in id order,
    `lengths[i]` samples belonging to ids[i]."""

    lengths: np.ndarray  # int64 per id
    ts: np.ndarray
    values: np.ndarray


def empty_run() -> SampleRun:
    return SampleRun(np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0, np.float64))


def read_stats(path: Path, scale_key: bytes) -> RowGroupStats:
    """Row-group statistics of a block file (series and ts min/max) and its value scale."""
    md = pq.ParquetFile(path).metadata
    meta = md.schema.to_arrow_schema().metadata or {}
    n = md.num_row_groups
    smin, smax = np.zeros(n, np.uint32), np.zeros(n, np.uint32)
    tmin, tmax = np.zeros(n, np.int64), np.zeros(n, np.int64)
    for i in range(n):
        rg = md.row_group(i)
        s, t = rg.column(0).statistics, rg.column(1).statistics
        if s is None or t is None or not s.has_min_max or not t.has_min_max:
            smin[i], smax[i] = 0, np.iinfo(np.uint32).max
            tmin[i], tmax[i] = np.iinfo(np.int64).min, np.iinfo(np.int64).max
            continue
        smin[i], smax[i], tmin[i], tmax[i] = s.min, s.max, t.min, t.max
    return RowGroupStats(smin, smax, tmin, tmax, int(meta.get(scale_key, b"0")))


def decode_row_group(path: Path, index: int, scale: int) -> Decoded:
    """Read one row group; values as DuckDB's `coalesce(value_i / 10**scale, value_f)`."""
    table = pq.ParquetFile(path).read_row_group(index, columns=["series", "ts", "value_i", "value_f"])
    series = _column(table, "series").to_numpy().astype(np.uint32, copy=False)
    ts = _column(table, "ts").to_numpy().astype(np.int64, copy=False)
    vi = _column(table, "value_i")
    vf = _column(table, "value_f")
    ints = pc.fill_null(vi, 0).to_numpy().astype(np.float64) / float(10**scale)
    floats = pc.fill_null(vf, 0.0).to_numpy().astype(np.float64, copy=False)
    values = np.where(vi.is_valid().to_numpy(zero_copy_only=False), ints, floats)
    tmin, tmax = (int(ts.min()), int(ts.max())) if len(ts) else (0, -1)
    return Decoded(series, ts, values, tmin, tmax)


def _column(table: pa.Table, name: str) -> pa.Array:
    col = table.column(name)
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


class RowGroupCache:
    """LRU of decoded row groups, bounded by the bytes of their arrays (thread-safe)."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, int], Decoded] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[str, int]) -> Decoded | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return found

    def put(self, key: tuple[str, int], value: Decoded) -> None:
        if value.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = value
            self._bytes += value.nbytes
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def drop_file(self, name: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == name]:
                self._bytes -= self._entries.pop(key).nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes


def wanted_row_groups(stats: RowGroupStats, ids: np.ndarray, mint: int, maxt: int) -> list[int]:
    """Row groups that may hold a sample of `ids` (sorted) in [mint, maxt]."""
    first = np.searchsorted(ids, stats.smin, side="left")
    last = np.searchsorted(ids, stats.smax, side="right")
    keep = (last > first) & (stats.tmax >= mint) & (stats.tmin <= maxt)
    return np.flatnonzero(keep).tolist()


def runs_in(dec: Decoded, ids: np.ndarray, mint: int, maxt: int) -> tuple[np.ndarray, np.ndarray]:
    """Per id, the slice [lo, hi) of `dec` holding its samples in [mint, maxt]."""
    lo = np.searchsorted(dec.series, ids, side="left")
    hi = np.searchsorted(dec.series, ids, side="right")
    if dec.tmin < mint or dec.tmax > maxt:
        lo, hi = _bisect_runs(dec.ts, lo, hi, mint, maxt)
    return lo, hi


def _bisect_runs(
    ts: np.ndarray, lo: np.ndarray, hi: np.ndarray, mint: int, maxt: int
) -> tuple[np.ndarray, np.ndarray]:
    """Narrow each sorted run ts[lo:hi] to [mint, maxt] (binary search across all runs at once)."""
    return _lower_bound(ts, lo, hi, mint, strict=False), _lower_bound(ts, lo, hi, maxt, strict=True)


def _lower_bound(ts: np.ndarray, lo: np.ndarray, hi: np.ndarray, bound: int, strict: bool) -> np.ndarray:
    """First index in each run whose ts is >= bound (> bound if `strict`)."""
    a, b = lo.astype(np.int64), hi.astype(np.int64)
    while True:
        active = a < b
        if not active.any():
            return a
        mid = (a + b) // 2
        probe = ts[np.minimum(mid, len(ts) - 1)]
        left = (probe <= bound) if strict else (probe < bound)
        a = np.where(active & left, mid + 1, a)
        b = np.where(active & ~left, mid, b)


def gather(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of arange(lo[i], hi[i]) for all i."""
    lengths = np.maximum(hi - lo, 0)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    starts = np.cumsum(lengths) - lengths
    return np.repeat(lo - starts, lengths) + np.arange(total, dtype=np.int64)


def read_part(dec_list: Sequence[Decoded], ids: np.ndarray, mint: int, maxt: int) -> Part:
    """The samples of `ids` in [mint, maxt] from consecutive row groups of one file (row groups
    are in (series, ts) order, so their pieces concatenate in order)."""
    lengths = np.zeros(len(ids), np.int64)
    ts_parts: list[np.ndarray] = []
    val_parts: list[np.ndarray] = []
    for dec in dec_list:
        lo, hi = runs_in(dec, ids, mint, maxt)
        n = hi - lo
        lengths += n
        if int(n.sum()) == len(dec.ts):
            ts_parts.append(dec.ts)
            val_parts.append(dec.values)
        elif n.any():
            idx = gather(lo, hi)
            ts_parts.append(dec.ts[idx])
            val_parts.append(dec.values[idx])
    return Part(lengths, _cat(ts_parts, np.int64), _cat(val_parts, np.float64))


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    if not parts:
        return np.empty(0, dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def merge_disjoint(ids: np.ndarray, parts: Sequence[Part]) -> SampleRun:
    """Merge per-file parts (in time order, time ranges not overlapping) into one run sorted
    by (series, ts): each part's run of a series goes after the earlier parts' runs."""
    parts = [p for p in parts if len(p.ts)]
    if not parts:
        return empty_run()
    if len(parts) == 1:
        p = parts[0]
        return SampleRun(np.repeat(ids, p.lengths), p.ts, p.values)
    lens = np.stack([p.lengths for p in parts])
    total = lens.sum(axis=0)
    series_start = np.cumsum(total) - total
    before = np.cumsum(lens, axis=0) - lens  # per part and id: samples of that id in earlier parts
    n = int(total.sum())
    ts = np.empty(n, np.int64)
    values = np.empty(n, np.float64)
    for k, p in enumerate(parts):
        dest = gather(series_start + before[k], series_start + before[k] + lens[k])
        ts[dest] = p.ts
        values[dest] = p.values
    return SampleRun(np.repeat(ids, total).astype(np.uint32), ts, values)
