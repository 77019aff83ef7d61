"""The storage backend interface for metric samples.

The TSDB (pharos.metrics.tsdb) keeps recent samples in its head + WAL and hands sorted sample
runs to a backend. The interface is deliberately narrow so that a distributed columnar engine
(ClickHouse) could implement it as well as the embedded Parquet + DuckDB one:

- write a run of samples (series id, timestamp, value) as an immutable level-0 file,
- select the samples of a set of series ids in a time range,
- compact files of one time window into one block,
- list and drop blocks,
- keep the series catalog (labels per series id) so blocks stay readable after restart.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """One immutable file of samples, covering [mint, maxt] inside one time window."""

    name: str
    level: int  # 0 = head flush part, 1 = compacted block
    window: int  # start of the aligned block window (ms) that contains the file's samples
    mint: int
    maxt: int
    nbytes: int


@dataclass(slots=True)
class SampleRun:
    """Columnar samples; sorted by (series, ts) when produced by a backend."""

    series: np.ndarray  # uint32
    ts: np.ndarray  # int64 ms
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.series)


class MetricsBackend(Protocol):
    def blocks(self) -> list[BlockInfo]:
        """All readable blocks, oldest window first."""
        ...

    def write_run(self, run: SampleRun, window_ms: int, level: int = 0) -> list[BlockInfo]:
        """Persist samples as immutable file(s), one per aligned window of `window_ms`."""
        ...

    def select(self, blocks: Sequence[BlockInfo], series_ids: np.ndarray, mint: int, maxt: int) -> SampleRun:
        """Samples of `series_ids` in [mint, maxt] from `blocks`, sorted by (series, ts),
        duplicates (same series and ts) removed keeping the first written."""
        ...

    def latest(self, blocks: Sequence[BlockInfo]) -> SampleRun:
        """The newest sample of every series in `blocks`."""
        ...

    def series_in(self, blocks: Sequence[BlockInfo], mint: int, maxt: int) -> np.ndarray:
        """Distinct series ids with at least one sample in [mint, maxt]."""
        ...

    def compact(self, blocks: Sequence[BlockInfo]) -> BlockInfo:
        """Merge files of one window into one level-1 block; the inputs are dropped from
        `blocks()` (their files are deleted later by `collect_garbage`)."""
        ...

    def drop_blocks(self, blocks: Sequence[BlockInfo]) -> None: ...

    def collect_garbage(self) -> None:
        """Delete files no longer listed (call when no reader is active)."""
        ...

    def discover(self) -> list[BlockInfo]:
        """Pick up blocks written into the data directory by another process."""
        ...

    def save_series(self, first_ref: int, labels: Sequence[Sequence[str]]) -> None:
        """Append catalog entries for refs first_ref.. (each a flat [name, value, ...] list)."""
        ...

    def load_series(self) -> Iterator[tuple[int, list[str]]]:
        """All catalog entries (ref, flat label list), ascending by ref."""
        ...

    def save_series_state(self, last_ts: np.ndarray, last_bits: np.ndarray) -> None:
        """Persist per-series newest timestamp and value bits (indexed by ref)."""
        ...

    def load_series_state(self) -> tuple[np.ndarray, np.ndarray] | None: ...

    def disk_bytes(self) -> int: ...
