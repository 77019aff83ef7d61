"""An in-memory Querier, used by tests and the promqltest runner."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pharos.metrics.model import Labels, Matcher, label_value
from pharos.metrics.tsdb.db import SeriesData


class MemoryQuerier:
    """Series held in numpy arrays; `select` slices them by time."""

    def __init__(self) -> None:
        self.series: dict[Labels, tuple[np.ndarray, np.ndarray]] = {}
        self.histograms: dict[Labels, np.ndarray] = {}
        self.touched_histogram = False

    def add(self, labels: Labels, timestamps: np.ndarray, values: np.ndarray) -> None:
        """Add samples to a series (merged by timestamp, later ones win)."""
        ts = np.asarray(timestamps, np.int64)
        vals = np.asarray(values, np.float64)
        old = self.series.get(labels)
        if old is not None:
            ts = np.concatenate([old[0], ts])
            vals = np.concatenate([old[1], vals])
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        last = np.append(ts[1:] != ts[:-1], True) if len(ts) else np.zeros(0, bool)
        self.series[labels] = (ts[last], vals[last])

    def add_histogram(self, labels: Labels, timestamps: np.ndarray) -> None:
        """Remember native-histogram sample times (not stored; selecting one marks the query)."""
        old = self.histograms.get(labels, np.zeros(0, np.int64))
        self.histograms[labels] = np.union1d(old, np.asarray(timestamps, np.int64))

    def clear(self) -> None:
        self.series.clear()
        self.histograms.clear()

    @staticmethod
    def _matches(labels: Labels, matchers: Sequence[Matcher]) -> bool:
        return all(m.matches(label_value(labels, m.name)) for m in matchers)

    def select(self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int) -> list[SeriesData]:
        """Series matching all matchers with their samples in [mint_ms, maxt_ms]."""
        for h, hts in self.histograms.items():
            if self._matches(h, matchers) and np.any((hts >= mint_ms) & (hts <= maxt_ms)):
                self.touched_histogram = True
        out = []
        for labels, (ts, vals) in self.series.items():
            if not self._matches(labels, matchers):
                continue
            a = int(np.searchsorted(ts, mint_ms, side="left"))
            b = int(np.searchsorted(ts, maxt_ms, side="right"))
            if b > a:
                out.append(SeriesData(labels, ts[a:b], vals[a:b]))
        return out
