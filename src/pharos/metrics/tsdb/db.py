"""The TSDB facade: the one object the rest of pharos uses to write and read samples.

INTERFACE CONTRACT (the TSDB helper implements the bodies; other modules code against it).
Times are int64 milliseconds since the epoch; values are float64 (staleness markers are the
special NaN in pharos.metrics.model.STALE_NAN and must round-trip bit-exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pharos.metrics.model import Labels, Matcher


@dataclass
class TSDBOptions:
    block_duration_ms: int = 2 * 3600 * 1000
    retention_time_ms: int = 15 * 24 * 3600 * 1000
    retention_size_bytes: int = 0  # 0 = unlimited
    out_of_order_window_ms: int = 10 * 60 * 1000
    wal_fsync_interval_s: float = 1.0


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
        raise NotImplementedError

    def open(self) -> None:
        """Load the catalog and blocks, replay the WAL (progress logged)."""
        raise NotImplementedError

    def close(self) -> None:
        """Flush the WAL (fsync) and release files. Does not cut a block."""
        raise NotImplementedError

    def get_ref(self, labels: Labels) -> int:
        """The series id for `labels`, creating the series (logged in the WAL) if new."""
        raise NotImplementedError

    def append(self, refs: np.ndarray, timestamps: np.ndarray, values: np.ndarray) -> AppendResult:
        """Append samples; when this returns they are in the WAL (written, fsync on interval)
        and visible to queries."""
        raise NotImplementedError

    def select(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> list[SeriesData]:
        """All series matching every matcher with their samples in [mint, maxt]."""
        raise NotImplementedError

    def series(self, matcher_sets: Sequence[Sequence[Matcher]], mint: int, maxt: int) -> list[Labels]:
        """Label sets of series matching any of the matcher sets with samples in [mint, maxt]."""
        raise NotImplementedError

    def label_names(self, matcher_sets: Sequence[Sequence[Matcher]], mint: int, maxt: int) -> list[str]:
        raise NotImplementedError

    def label_values(
        self, name: str, matcher_sets: Sequence[Sequence[Matcher]], mint: int, maxt: int
    ) -> list[str]:
        raise NotImplementedError

    def maintain(self, now_ms: int) -> None:
        """Background housekeeping: cut blocks, compact, apply retention, truncate the WAL."""
        raise NotImplementedError

    def stats(self) -> dict:
        """Figures for /api/v1/status/tsdb (headStats, seriesCountByMetricName, ...)."""
        raise NotImplementedError
