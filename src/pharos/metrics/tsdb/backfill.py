"""Backfill: OpenMetrics text with timestamps (the input of `promtool tsdb create-blocks-from
openmetrics`) into a data directory.

The file is parsed in chunks cut at metric-family boundaries (progress is reported per chunk).
Samples go into self-contained import units (their own series catalog + sorted samples) that
the storage backend writes atomically (tmp dir + rename) under `import/`. A TSDB picks units up
in `maintain()`, so this works while a server runs on the same directory; when none runs, the
units are ingested and compacted into blocks right away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pharos.metrics.exposition.parser import ExpositionFormat, parse
from pharos.metrics.model import Labels
from pharos.metrics.tsdb.db import TSDB, TSDBLockedError, TSDBOptions
from pharos.metrics.tsdb.registry import SeriesRegistry
from pharos.storage.backend import SampleRun
from pharos.storage.parquet import ParquetBackend

log = logging.getLogger("pharos.tsdb")

ProgressFn = Callable[[int, int], None]
_CHUNK_BYTES = 8 << 20
_UNIT_SAMPLES = 5_000_000
_FAMILY_STARTS = (b"\n# HELP ", b"\n# TYPE ", b"\n# UNIT ")


class BackfillError(ValueError):
    """The input cannot be backfilled (parse error, missing timestamps)."""


@dataclass
class BackfillResult:
    samples: int
    series: int
    mint: int
    maxt: int
    units: int
    ingested_now: bool  # False: a running server will pick the data up in its next maintenance


def split_families(body: bytes, chunk_bytes: int = _CHUNK_BYTES) -> list[tuple[int, int]]:
    """(start, end) offsets of chunks of `body` that each begin at a metric family's first
    metadata line (so every chunk parses on its own)."""
    chunks, start, n = [], 0, len(body)
    while start < n:
        cut = _next_family_start(body, start + chunk_bytes) if start + chunk_bytes < n else -1
        if cut < 0:
            chunks.append((start, n))
            break
        chunks.append((start, cut))
        start = cut
    return chunks


def _next_family_start(body: bytes, pos: int) -> int:
    """Offset of the first metadata line at or after `pos` that follows a sample line."""
    while True:
        hits = [c for c in (body.find(m, pos) for m in _FAMILY_STARTS) if c >= 0]
        if not hits:
            return -1
        c = min(hits)
        prev_line = body.rfind(b"\n", 0, c) + 1
        if body[prev_line : prev_line + 1] != b"#":
            return c + 1
        pos = c + 1


class _Collector:
    """Local series ids and columnar samples of one import unit."""

    def __init__(self) -> None:
        self.ids: dict[Labels, int] = {}
        self.labels: list[Labels] = []
        self.series: list[np.ndarray] = []
        self.ts: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.count = 0

    def add(self, samples: list) -> None:
        ids = np.empty(len(samples), dtype=np.uint32)
        ts = np.empty(len(samples), dtype=np.int64)
        values = np.empty(len(samples), dtype=np.float64)
        for i, s in enumerate(samples):
            if s.timestamp_ms is None:
                raise BackfillError(f"sample without timestamp: {s.key}")
            sid = self.ids.get(s.labels)
            if sid is None:
                sid = self.ids[s.labels] = len(self.labels)
                self.labels.append(s.labels)
            ids[i], ts[i], values[i] = sid, s.timestamp_ms, s.value
        self.series.append(ids)
        self.ts.append(ts)
        self.values.append(values)
        self.count += len(samples)

    def run(self) -> SampleRun:
        return SampleRun(np.concatenate(self.series), np.concatenate(self.ts), np.concatenate(self.values))


def backfill_openmetrics(
    path: Path,
    data_dir: Path,
    progress: ProgressFn | None = None,
    options: TSDBOptions | None = None,
    chunk_bytes: int = _CHUNK_BYTES,
) -> BackfillResult:
    """Write the samples of an OpenMetrics file into `data_dir` (see module docstring)."""
    body = Path(path).read_bytes()
    if not body.rstrip().endswith(b"# EOF"):
        raise BackfillError(f"{path}: OpenMetrics input must end with '# EOF'")
    data_dir = Path(data_dir)
    backend = ParquetBackend(data_dir)
    collector, units, total = _Collector(), 0, 0
    all_series: set[Labels] = set()
    mint, maxt = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    chunks = split_families(body, chunk_bytes)
    for i, (start, end) in enumerate(chunks):
        text = body[start:end] if i == len(chunks) - 1 else body[start:end] + b"# EOF\n"
        try:
            result = parse(text, ExpositionFormat.OPENMETRICS)
        except ValueError as e:
            line = body.count(b"\n", 0, start)
            raise BackfillError(f"{path}: in the chunk starting at line {line + 1}: {e}") from e
        if result.samples:
            collector.add(result.samples)
        if collector.count >= _UNIT_SAMPLES or (i == len(chunks) - 1 and collector.count):
            run = collector.run()
            mint, maxt = min(mint, int(run.ts.min())), max(maxt, int(run.ts.max()))
            backend.write_import([SeriesRegistry.flatten(lb) for lb in collector.labels], run)
            all_series.update(collector.labels)
            total += collector.count
            units += 1
            collector = _Collector()
        if progress is not None:
            progress(end, len(body))
    ingested = _ingest_now(data_dir, options)
    return BackfillResult(total, len(all_series), int(mint), int(maxt), units, ingested)


def _ingest_now(data_dir: Path, options: TSDBOptions | None) -> bool:
    """Turn import units into blocks when no server holds the directory."""
    db = TSDB(data_dir, options)
    try:
        db.open()
    except TSDBLockedError:
        log.info("a running pharos holds %s; it will import the data within a minute", data_dir)
        return False
    try:
        db.import_and_compact(int(time.time() * 1000))
    finally:
        db.close()
    return True
