"""The embedded storage backend: immutable Parquet files read with DuckDB.

On-disk layout under the backend root (the TSDB data directory)::

    blocks/L{level}-{window}-{mint}-{maxt}-{uid}.parquet   sorted by (series, ts)
    series/{first_ref:010d}-{end_ref:010d}.parquet         catalog: ref -> labels (JSON)
    import/{name}/{series,data}.parquet                    backfill drop box (see tsdb.backfill)

Files are written to a temporary name and renamed into place, so a reader (or another process)
never sees a half-written file. Level 0 files are head flushes (minutes of data); level 1 files
are compacted blocks covering one aligned window (2h by default).
"""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import sys
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from itertools import pairwise
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pharos.storage import blockread as br
from pharos.storage.backend import BlockInfo, SampleRun
from pharos.storage.durable import fsync_path
from pharos.storage.labelcodec import decode_label_blob, encode_label_blob

log = logging.getLogger("pharos.storage")

SAMPLE_SCHEMA = pa.schema([("series", pa.uint32()), ("ts", pa.int64()), ("value", pa.float64())])
# Block files store a value as a scaled integer (value_i / 10**scale, delta-packed) when that
# reproduces its float64 bits exactly, else as a float (value_f, byte-stream split); the other
# column is null. On node_exporter-shaped data this took 2.2 -> 1.6 B/sample (see the report).
BLOCK_SCHEMA = pa.schema(
    [("series", pa.uint32()), ("ts", pa.int64()), ("value_i", pa.int64()), ("value_f", pa.float64())]
)
_SCALE_KEY = b"pharos.value_scale"
_MAX_SCALE = 6
_EXACT_LIMIT = 2**53
# glibc's malloc_trim (None elsewhere, e.g. musl or macOS)
_MALLOC_TRIM = getattr(ctypes.CDLL(None), "malloc_trim", None) if sys.platform == "linux" else None
_SCALE_PROBE = 1 << 16  # values looked at to choose a file's decimal scale
BLOCK_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 9,
    "use_dictionary": False,
    "column_encoding": {
        "series": "DELTA_BINARY_PACKED",
        "ts": "DELTA_BINARY_PACKED",
        "value_i": "DELTA_BINARY_PACKED",
        "value_f": "BYTE_STREAM_SPLIT",
    },
    "row_group_size": 1 << 20,
    "write_statistics": True,
}
# Import units (backfill drop box) keep plain float values.
PARQUET_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 6,
    "use_dictionary": False,
    "column_encoding": {
        "series": "DELTA_BINARY_PACKED",
        "ts": "DELTA_BINARY_PACKED",
        "value": "BYTE_STREAM_SPLIT",
    },
    "row_group_size": 1 << 20,
    "write_statistics": True,
}
_SERIES_CACHE_ENTRIES = 64


def catalog_table(first_ref: int, labels: Sequence[Sequence[str]]) -> pa.Table:
    """A series catalog: refs from `first_ref` on, each with its encoded labels."""
    return pa.table(
        {
            "ref": pa.array(np.arange(first_ref, first_ref + len(labels), dtype=np.uint32)),
            "labels": pa.array([encode_label_blob(flat) for flat in labels], pa.binary()),
        }
    )


def write_parquet_atomic(table: pa.Table, path: Path, **options: object) -> int:
    """Write `table` to `path` via a temporary file + fsync + rename; returns the file size."""
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    pq.write_table(table, tmp, **options)  # type: ignore[arg-type]
    fsync_path(tmp)
    os.rename(tmp, path)
    fsync_path(path.parent)
    return path.stat().st_size


def sort_dedup(run: SampleRun, priority: np.ndarray | None = None) -> SampleRun:
    """Sort by (series, ts) and drop repeated (series, ts), keeping the lowest priority value
    (earliest written) or, without priorities, the first occurrence."""
    if len(run) == 0:
        return run
    order, s, t = _sort_order(run, priority)
    keep = np.ones(len(run), dtype=bool)
    keep[1:] = (s[1:] != s[:-1]) | (t[1:] != t[:-1])
    if keep.all():
        return SampleRun(s, t, run.values[order])
    return SampleRun(s[keep], t[keep], run.values[order[keep]])


def _sort_order(run: SampleRun, priority: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, series[order], ts[order]) sorting by (series, ts, priority or position); a
    stable sort by series alone when that already puts each series' samples in time order
    (a head written scrape by scrape, or files read in priority order) and priorities do not
    decrease along the run: no position key, fewer temporaries."""
    if priority is None or not (priority[1:] < priority[:-1]).any():
        order = np.argsort(run.series, kind="stable")
        s, t = run.series[order], run.ts[order]
        if not ((s[1:] == s[:-1]) & (t[1:] < t[:-1])).any():
            return order, s, t
        del order, s, t
    keys = (np.arange(len(run)), run.ts, run.series) if priority is None else (priority, run.ts, run.series)
    order = np.lexsort(keys)
    return order, run.series[order], run.ts[order]


def _release_memory() -> None:
    """Hand the memory freed after a file write or read back to the OS: Arrow's pool (mimalloc
    holds ~100 MB after a head flush or compaction of 2M samples otherwise) and glibc's heap
    (numpy's sort temporaries), so that neither allocator keeps what the other then needs."""
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _drain(parts: list[np.ndarray]) -> np.ndarray:
    """The concatenation of `parts`, which is emptied (so the parts can be freed)."""
    out = np.concatenate(parts) if parts else np.zeros(0)
    parts.clear()
    return out


def _scaled(values: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(scaled ints, mask of values they reproduce bit-exactly); temporaries reused in place."""
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.round(values * 10.0**scale, out=np.empty_like(values))
        ok = np.isfinite(scaled)
        ok &= np.abs(scaled) < _EXACT_LIMIT
        np.copyto(scaled, 0.0, where=~ok)
        ints = scaled.astype(np.int64)
        back = np.divide(ints, 10.0**scale, out=scaled)
    ok &= back.view(np.uint64) == values.view(np.uint64)
    return ints, ok


def encode_values(values: np.ndarray) -> tuple[int, pa.Array, pa.Array]:
    """Values as scaled ints where that is exact, floats elsewhere; the scale is the smallest
    that represents (nearly) all of an evenly spaced probe of the values exactly, so the
    values are scaled once (whatever the scale, every value round-trips bit-exactly)."""
    probe = values[:: max(1, len(values) // _SCALE_PROBE)]
    scale = _choose_scale(probe)
    ints, ok = _scaled(values, scale)
    return scale, pa.array(ints, pa.int64(), mask=~ok), pa.array(values, pa.float64(), mask=ok)


def _choose_scale(values: np.ndarray) -> int:
    """The smallest decimal scale that represents > 99.9% of `values` exactly, or the best."""
    best_scale, best_exact = 0, -1
    for scale in range(_MAX_SCALE + 1):
        exact = int(_scaled(values, scale)[1].sum())
        if exact > best_exact:
            best_scale, best_exact = scale, exact
        if exact > 0.999 * len(values):
            break
    return best_scale


def _block_name(info_level: int, window: int, mint: int, maxt: int) -> str:
    # The last field orders files by creation time (earlier files win on duplicate samples).
    return f"L{info_level}-{window}-{mint}-{maxt}-{time.time_ns():016x}{uuid.uuid4().hex[:4]}.parquet"


def _parse_block_name(path: Path) -> BlockInfo | None:
    parts = path.name.removesuffix(".parquet").split("-")
    if len(parts) != 5 or not parts[0].startswith("L"):
        return None
    try:
        level, window, mint, maxt = int(parts[0][1:]), int(parts[1]), int(parts[2]), int(parts[3])
    except ValueError:
        return None
    return BlockInfo(path.name, level, window, mint, maxt, path.stat().st_size)


def _block_order(b: BlockInfo) -> tuple[int, int, str]:
    """Oldest window first; inside a window compacted blocks before newer parts, by creation."""
    return (b.window, -b.level, b.name.rsplit("-", 1)[-1])


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


class ParquetBackend:
    """MetricsBackend over Parquet files in a directory, queried with DuckDB."""

    def __init__(
        self, root: Path, duckdb_threads: int = 2, cache_bytes: int = br.DEFAULT_CACHE_BYTES
    ) -> None:
        self.root = Path(root)
        self.block_dir = self.root / "blocks"
        self.series_dir = self.root / "series"
        self.import_dir = self.root / "import"
        for d in (self.block_dir, self.series_dir, self.import_dir):
            d.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._blocks: dict[str, BlockInfo] = {}
        self._garbage: list[Path] = []
        self._series_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._scales: dict[str, int] = {}
        self._stats: dict[str, br.RowGroupStats] = {}
        self.cache = br.RowGroupCache(cache_bytes)
        self._con = duckdb.connect(config={"threads": duckdb_threads})
        self._cleanup_tmp()
        for path in sorted(self.block_dir.glob("L*.parquet")):
            info = _parse_block_name(path)
            if info is not None:
                self._blocks[info.name] = info

    # -- listing -----------------------------------------------------------------------------
    def _cleanup_tmp(self) -> None:
        for d in (self.block_dir, self.series_dir):
            for tmp in d.glob(".tmp-*"):
                tmp.unlink(missing_ok=True)

    def blocks(self) -> list[BlockInfo]:
        with self._lock:
            return sorted(self._blocks.values(), key=_block_order)

    def discover(self) -> list[BlockInfo]:
        """Blocks that appeared on disk since we last looked (written by another process)."""
        found = []
        for path in self.block_dir.glob("L*.parquet"):
            if path.name in self._blocks:
                continue
            info = _parse_block_name(path)
            if info is not None:
                found.append(info)
        with self._lock:
            for info in found:
                self._blocks[info.name] = info
        return found

    def disk_bytes(self) -> int:
        with self._lock:
            return sum(b.nbytes for b in self._blocks.values())

    # -- writing -----------------------------------------------------------------------------
    def write_run(self, run: SampleRun, window_ms: int, level: int = 0) -> list[BlockInfo]:
        """Write samples (any order) as one sorted file per aligned window."""
        if len(run) == 0:
            return []
        first, last = int(run.ts.min()), int(run.ts.max())
        if first - first % window_ms == last - last % window_ms:
            run = sort_dedup(run)  # the caller's run is freed here if nothing else holds it
            out = [self._write_file(run, first - first % window_ms, level)]
        else:
            windows = run.ts - run.ts % window_ms
            out = []
            for w in np.unique(windows):
                sel = windows == w
                part = sort_dedup(SampleRun(run.series[sel], run.ts[sel], run.values[sel]))
                out.append(self._write_file(part, int(w), level))
                del part
        _release_memory()
        return out

    def _write_file(self, run: SampleRun, window: int, level: int) -> BlockInfo:
        name = _block_name(level, window, int(run.ts.min()), int(run.ts.max()))
        scale, value_i, value_f = encode_values(run.values)
        table = pa.table(
            [pa.array(run.series, pa.uint32()), pa.array(run.ts, pa.int64()), value_i, value_f],
            schema=BLOCK_SCHEMA.with_metadata({_SCALE_KEY: str(scale).encode()}),
        )
        nbytes = write_parquet_atomic(table, self.block_dir / name, **BLOCK_OPTIONS)
        self._scales[name] = scale
        info = BlockInfo(name, level, window, int(run.ts.min()), int(run.ts.max()), nbytes)
        with self._lock:
            self._blocks[name] = info
        return info

    def compact(self, blocks: Sequence[BlockInfo]) -> BlockInfo:
        """Merge the files of one window into one level-1 block (earlier files win on conflict)."""
        windows = {b.window for b in blocks}
        if len(windows) != 1:
            raise ValueError(f"compact: files span several windows {sorted(windows)}")
        run = self._read_whole(blocks)
        info = self._write_file(run, windows.pop(), 1)
        del run
        _release_memory()
        self.drop_blocks(blocks)
        return info

    def _read_whole(self, blocks: Sequence[BlockInfo]) -> SampleRun:
        """Every sample of `blocks` (in priority order), sorted and deduplicated; read row group
        by row group with pyarrow, each column's parts freed once concatenated (each file is
        sorted, so the sort merges runs and needs no position key)."""
        series: list[np.ndarray] = []
        ts: list[np.ndarray] = []
        values: list[np.ndarray] = []
        sizes = []
        for b in blocks:
            path = self.block_dir / b.name
            stats = br.read_stats(path, _SCALE_KEY)
            before = len(ts)
            for i in range(len(stats.smin)):
                group = br.decode_row_group(path, i, stats.scale)
                series.append(group.series)
                ts.append(group.ts)
                values.append(group.values)
            sizes.append(sum(len(t) for t in ts[before:]))
        priority = np.repeat(np.arange(len(blocks), dtype=np.int32), sizes)
        return sort_dedup(SampleRun(_drain(series), _drain(ts), _drain(values)), priority)

    def drop_blocks(self, blocks: Sequence[BlockInfo]) -> None:
        with self._lock:
            for b in blocks:
                if self._blocks.pop(b.name, None) is not None:
                    self._garbage.append(self.block_dir / b.name)
                self._series_cache.pop(b.name, None)
                self._scales.pop(b.name, None)
                self._stats.pop(b.name, None)
        for b in blocks:
            self.cache.drop_file(b.name)

    def collect_garbage(self) -> None:
        with self._lock:
            garbage, self._garbage = self._garbage, []
        for path in garbage:
            path.unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------------------------
    def select(self, blocks: Sequence[BlockInfo], series_ids: np.ndarray, mint: int, maxt: int) -> SampleRun:
        """Samples of `series_ids` in [mint, maxt] from `blocks` (given in priority order),
        read through the decoded-row-group cache (see `pharos.storage.blockread`)."""
        ids = np.unique(np.asarray(series_ids, dtype=np.uint32))
        if not blocks or len(ids) == 0:
            return br.empty_run()
        by_time = sorted(blocks, key=lambda b: b.mint)
        if all(a.maxt < b.mint for a, b in pairwise(by_time)):
            return br.merge_disjoint(ids, [self._read_block(b, ids, mint, maxt) for b in by_time])
        return self._merge_overlapping(blocks, ids, mint, maxt)

    def _merge_overlapping(
        self, blocks: Sequence[BlockInfo], ids: np.ndarray, mint: int, maxt: int
    ) -> SampleRun:
        """Blocks whose time ranges overlap: concatenate, sort, keep the first written sample."""
        runs = [br.merge_disjoint(ids, [self._read_block(b, ids, mint, maxt)]) for b in blocks]
        priority = np.repeat(np.arange(len(runs), dtype=np.int64), [len(r) for r in runs])
        run = SampleRun(
            np.concatenate([r.series for r in runs]),
            np.concatenate([r.ts for r in runs]),
            np.concatenate([r.values for r in runs]),
        )
        return sort_dedup(run, priority)

    def _read_block(self, block: BlockInfo, ids: np.ndarray, mint: int, maxt: int) -> br.Part:
        path = self.block_dir / block.name
        stats = self._stats.get(block.name)
        if stats is None:
            stats = self._stats[block.name] = br.read_stats(path, _SCALE_KEY)
        decoded = []
        for index in br.wanted_row_groups(stats, ids, mint, maxt):
            key = (block.name, index)
            dec = self.cache.get(key)
            if dec is None:
                dec = br.decode_row_group(path, index, stats.scale)
                self.cache.put(key, dec)
            decoded.append(dec)
        return br.read_part(decoded, ids, mint, maxt)

    def _read(
        self, blocks: Sequence[BlockInfo], ids: np.ndarray | None, mint: int | None, maxt: int | None
    ) -> SampleRun:
        """Samples from `blocks` (in the given priority order), sorted and deduplicated."""
        empty = SampleRun(np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0, np.float64))
        if not blocks or (ids is not None and len(ids) == 0):
            return empty
        where = ["TRUE"]
        if mint is not None and maxt is not None:
            where.append(f"ts BETWEEN {int(mint)} AND {int(maxt)}")
        cur = self._con.cursor()
        try:
            if ids is not None:
                where.append(f"series BETWEEN {int(ids.min())} AND {int(ids.max())}")
                if len(ids) < 64:
                    where.append(f"series IN ({','.join(str(int(i)) for i in ids)})")
                else:
                    cur.register("ids", pa.table({"id": pa.array(ids, pa.uint32())}))
                    where.append("series IN (SELECT id FROM ids)")
            cond = " AND ".join(where)
            query = " UNION ALL ".join(
                f"SELECT series, ts, {self._value_sql(b)} AS value, {k}::INTEGER AS k"
                f" FROM read_parquet({_sql_str(self.block_dir / b.name)}) WHERE {cond}"
                for k, b in enumerate(blocks)
            )
            table = cur.sql(query).to_arrow_table()
        finally:
            cur.close()
        if table.num_rows == 0:
            return empty
        series, ts, values, k = (c.to_numpy() for c in table.combine_chunks().columns)
        run = SampleRun(
            series.astype(np.uint32, copy=False),
            ts.astype(np.int64, copy=False),
            values.astype(np.float64, copy=False),
        )
        return sort_dedup(run, k)

    def latest(self, blocks: Sequence[BlockInfo]) -> SampleRun:
        """The newest sample of every series in `blocks` (to restore per-series state)."""
        if not blocks:
            return SampleRun(np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0, np.float64))
        union = " UNION ALL ".join(
            f"SELECT series, ts, {self._value_sql(b)} AS value FROM read_parquet({_sql_str(self.block_dir / b.name)})"
            for b in blocks
        )
        cur = self._con.cursor()
        try:
            table = cur.sql(
                f"SELECT series, max(ts), arg_max(value, ts) FROM ({union}) GROUP BY series"
            ).to_arrow_table()
        finally:
            cur.close()
        cols = [c.to_numpy() for c in table.combine_chunks().columns]
        return SampleRun(cols[0].astype(np.uint32), cols[1].astype(np.int64), cols[2].astype(np.float64))

    def _value_sql(self, block: BlockInfo) -> str:
        """SQL for a block file's float64 value (scaled int or float column)."""
        scale = self._scales.get(block.name)
        if scale is None:
            meta = pq.read_schema(self.block_dir / block.name).metadata or {}
            scale = self._scales[block.name] = int(meta.get(_SCALE_KEY, b"0"))
        return f"coalesce(CAST(value_i AS DOUBLE) / CAST({10**scale} AS DOUBLE), value_f)"

    def series_in(self, blocks: Sequence[BlockInfo], mint: int, maxt: int) -> np.ndarray:
        """Distinct series ids with samples in [mint, maxt] (per-file results cached when the
        file lies fully inside the range)."""
        parts = []
        for b in blocks:
            if b.maxt < mint or b.mint > maxt:
                continue
            whole = mint <= b.mint and b.maxt <= maxt
            cached = self._series_cache.get(b.name) if whole else None
            if cached is None:
                cached = self._distinct_series(b, None if whole else (mint, maxt))
                if whole:
                    with self._lock:
                        self._series_cache[b.name] = cached
                        while len(self._series_cache) > _SERIES_CACHE_ENTRIES:
                            self._series_cache.popitem(last=False)
            parts.append(cached)
        if not parts:
            return np.empty(0, np.uint32)
        return np.unique(np.concatenate(parts))

    def _distinct_series(self, block: BlockInfo, rng: tuple[int, int] | None) -> np.ndarray:
        cond = "" if rng is None else f" WHERE ts BETWEEN {int(rng[0])} AND {int(rng[1])}"
        cur = self._con.cursor()
        try:
            table = cur.sql(
                f"SELECT DISTINCT series FROM read_parquet({_sql_str(self.block_dir / block.name)}){cond}"
            ).to_arrow_table()
        finally:
            cur.close()
        return np.sort(table.column(0).to_numpy().astype(np.uint32))

    # -- series catalog ----------------------------------------------------------------------
    def save_series(self, first_ref: int, labels: Sequence[Sequence[str]]) -> None:
        if not labels:
            return
        end = first_ref + len(labels)
        write_parquet_atomic(
            catalog_table(first_ref, labels),
            self.series_dir / f"{first_ref:010d}-{end:010d}.parquet",
            compression="zstd",
        )

    def load_series(self) -> Iterator[tuple[int, list[str]]]:
        files = sorted(self.series_dir.glob("[0-9]*.parquet"))
        next_ref = 0
        for path in files:
            table = pq.read_table(path)
            refs = table.column("ref").to_numpy()
            raw = table.column("labels").to_pylist()
            for ref, blob in zip(refs.tolist(), raw, strict=True):
                if ref < next_ref:
                    continue
                next_ref = ref + 1
                yield ref, decode_label_blob(blob)

    def save_series_state(self, last_ts: np.ndarray, last_bits: np.ndarray) -> None:
        """Snapshot per-series newest timestamp and value bits (written at each head flush)."""
        table = pa.table(
            {"last_ts": pa.array(last_ts, pa.int64()), "last_bits": pa.array(last_bits, pa.uint64())}
        )
        write_parquet_atomic(table, self.series_dir / "state.parquet", compression="zstd")

    def load_series_state(self) -> tuple[np.ndarray, np.ndarray] | None:
        path = self.series_dir / "state.parquet"
        if not path.exists():
            return None
        table = pq.read_table(path)
        return table.column("last_ts").to_numpy().astype(np.int64), table.column(
            "last_bits"
        ).to_numpy().astype(np.uint64)

    def compact_series_catalog(self) -> None:
        """Merge many small catalog files into one (keeps open() fast)."""
        files = sorted(self.series_dir.glob("[0-9]*.parquet"))
        if len(files) < 16:
            return
        entries = list(self.load_series())
        if not entries or entries[-1][0] + 1 != len(entries):
            log.warning("series catalog has gaps; not compacting it")
            return
        self.save_series(0, [flat for _, flat in entries])
        keep = f"{0:010d}-{len(entries):010d}.parquet"
        for path in files:
            if path.name != keep:
                path.unlink(missing_ok=True)

    # -- backfill drop box -------------------------------------------------------------------
    def write_import(self, labels: Sequence[Sequence[str]], run: SampleRun) -> Path:
        """Write a self-contained import unit (local series ids) atomically: tmp dir + rename."""
        name = uuid.uuid4().hex
        tmp = self.import_dir / f".tmp-{name}"
        tmp.mkdir()
        write_parquet_atomic(catalog_table(0, labels), tmp / "series.parquet", compression="zstd")
        data = pa.table(
            {"series": pa.array(run.series, pa.uint32()), "ts": run.ts, "value": run.values},
            schema=SAMPLE_SCHEMA,
        )
        write_parquet_atomic(data, tmp / "data.parquet", **PARQUET_OPTIONS)
        final = self.import_dir / name
        os.rename(tmp, final)
        fsync_path(self.import_dir)
        return final

    def pending_imports(self) -> list[Path]:
        return sorted(p for p in self.import_dir.iterdir() if p.is_dir() and not p.name.startswith(".tmp-"))

    def read_import(self, unit: Path) -> tuple[list[list[str]], SampleRun]:
        catalog = pq.read_table(unit / "series.parquet")
        labels = [decode_label_blob(b) for b in catalog.column("labels").to_pylist()]
        data = pq.read_table(unit / "data.parquet")
        run = SampleRun(
            data.column("series").to_numpy().astype(np.uint32),
            data.column("ts").to_numpy().astype(np.int64),
            data.column("value").to_numpy().astype(np.float64),
        )
        return labels, run

    def finish_import(self, unit: Path) -> None:
        shutil.rmtree(unit, ignore_errors=True)
