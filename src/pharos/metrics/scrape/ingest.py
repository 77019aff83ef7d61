"""The scrape hot path: parsed columns -> TSDB refs, values and timestamps as numpy arrays.

A per-target SeriesCache maps each sample's series text (stable across scrapes) to the TSDB ref
of its final label set (after target labels and metric_relabel_configs), or to DROPPED. A series
seen before costs one dict lookup; only new series pay for label merging, relabelling, limit
checks and `TSDB.get_ref`. When the parser recognised the page's layout (the same series lines
as last scrape), the previous scrape's ref array is reused whole: no work per sample at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from pharos.metrics.exposition.layout import PageLayout
from pharos.metrics.exposition.parser import Columns, MetricMetadata
from pharos.metrics.model import METRIC_NAME, Labels, make_labels
from pharos.metrics.scrape.client import ScrapeError
from pharos.metrics.scrape.relabel import compile_relabel, is_valid_label_name
from pharos.metrics.scrape.settings import Limits, ScrapeSettings

DROPPED = -1
EXPORTED_PREFIX = "exported_"
_EMPTY_REFS = np.empty(0, dtype=np.int64)
_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass
class SeriesCache:
    """Per-target state carried from scrape to scrape (and across a loop restart on reload)."""

    refs: dict[str, int] = field(default_factory=dict)  # series text -> ref or DROPPED
    prev_refs: np.ndarray = field(default_factory=lambda: _EMPTY_REFS)  # last scrape, for staleness
    metadata: dict[str, MetricMetadata] = field(default_factory=dict)

    def stale_refs(self, current: np.ndarray) -> np.ndarray:
        """Refs of the previous scrape that are absent from `current`."""
        prev = self.prev_refs
        if len(prev) == 0 or prev is current or np.array_equal(prev, current):
            return _EMPTY_REFS
        return np.setdiff1d(prev, current, assume_unique=False)

    def trim(self, keys: list[str]) -> None:
        """Forget series texts absent from this scrape once the cache grows well past its size."""
        if len(self.refs) > 2 * len(keys) + 1000:
            refs = self.refs
            self.refs = {key: refs[key] for key in keys if key in refs}


@dataclass
class _LayoutRefs:
    """The refs of a page layout's samples, and which samples survive metric relabelling."""

    layout: PageLayout
    refs: np.ndarray
    kept: np.ndarray | None  # indexes of the samples not DROPPED; None when all are kept


@dataclass
class Batch:
    """One scrape's samples ready for TSDB.append."""

    refs: np.ndarray  # int64
    values: np.ndarray  # float64
    timestamps: np.ndarray | None  # int64 ms; None when every sample has the scrape time
    tracked: np.ndarray  # refs subject to staleness (samples without explicit timestamps)
    total: int  # samples scraped
    added: int  # samples after metric relabelling
    series_added: int


class Ingester:
    """Turns a target's parsed samples into a Batch, enforcing the scrape limits."""

    def __init__(
        self,
        target_labels: Labels,
        settings: ScrapeSettings,
        get_ref: Callable[[Labels], int],
        cache: SeriesCache,
    ) -> None:
        self.target_labels = target_labels
        self.target_names = frozenset(n for n, _ in target_labels)
        self.honor_labels = settings.honor_labels
        self.honor_timestamps = settings.honor_timestamps
        self.metric_relabel = compile_relabel(settings.metric_relabel_configs)
        self.limits = settings.limits
        self.get_ref = get_ref
        self.cache = cache
        self._layout_refs: _LayoutRefs | None = None

    def ingest(self, columns: Columns, default_ts: int) -> Batch:
        """Map samples to refs; raise ScrapeError if a limit is exceeded (nothing is appended)."""
        known = self._layout_refs
        if known is not None and columns.layout is known.layout:
            return self._same_layout(columns, known)
        self._layout_refs = None
        refs: list[int] = []
        kept: list[int] = []
        series_added = 0
        lookup = self.cache.refs.get
        add_ref, keep = refs.append, kept.append
        for i, key in enumerate(columns.keys):
            ref = lookup(key)
            if ref is None:
                ref = self._new_series(key, columns.labels_of(key))
                if ref != DROPPED:
                    series_added += 1
            if ref != DROPPED:
                add_ref(ref)
                keep(i)
        total = len(columns.keys)
        self._check_sample_limit(total, len(refs))
        self.cache.trim(columns.keys)
        ref_arr = np.array(refs, dtype=np.int64)
        kept_idx = None if len(kept) == total else np.array(kept, dtype=np.int64)
        if columns.layout is not None:
            self._layout_refs = _LayoutRefs(columns.layout, ref_arr, kept_idx)
        stamps = columns.timestamps if self.honor_timestamps else {}
        return _batch(ref_arr, columns.values, kept_idx, stamps, default_ts, series_added)

    def _same_layout(self, columns: Columns, known: _LayoutRefs) -> Batch:
        """The page has the last scrape's series lines: reuse its refs (no timestamps, no new series).

        Limits held for those series then (the layout is only remembered after a successful ingest).
        """
        return _batch(known.refs, columns.values, known.kept, {}, 0, 0)

    def _check_sample_limit(self, total: int, added: int) -> None:
        limit = self.limits.sample_limit
        if limit > 0 and added > limit:
            raise SampleLimitError(total, added)

    def _new_series(self, key: str, labels: Labels) -> int:
        """Resolve a series text seen for the first time; cache its ref (or DROPPED)."""
        verify_unique_names(labels)
        lset = self.mutate(labels)
        if lset is None:
            self.cache.refs[key] = DROPPED
            return DROPPED
        if not any(n == METRIC_NAME for n, _ in lset):
            raise ScrapeError(f"missing metric name ({METRIC_NAME} label)")
        verify_names_valid(lset)
        verify_label_limits(lset, self.limits)
        ref = self.get_ref(lset)
        self.cache.refs[key] = ref
        return ref

    def mutate(self, scraped: Labels) -> Labels | None:
        """Merge target labels (honor_labels rules), then apply metric_relabel_configs."""
        merged = dict(scraped)
        if self.honor_labels:
            for name, value in self.target_labels:
                merged.setdefault(name, value)
        else:
            conflicts = [(n, merged[n]) for n, _ in self.target_labels if merged.get(n)]
            merged.update(self.target_labels)
            if conflicts:
                merged.update(resolve_conflicts(conflicts, scraped, self.target_names))
        lset = make_labels(merged)
        if self.metric_relabel:
            return self.metric_relabel(lset) or None
        return lset


def _batch(
    refs: np.ndarray,
    values: np.ndarray,
    kept: np.ndarray | None,
    stamps: dict[int, int],
    default_ts: int,
    series_added: int,
) -> Batch:
    """A Batch of the kept samples; explicit timestamps are exempt from staleness tracking."""
    total = len(values)
    if kept is not None:
        values = values[kept]
    ts_arr = None
    tracked = refs
    if stamps:
        at = np.fromiter(stamps, dtype=np.int64, count=len(stamps))
        explicit = np.zeros(total, dtype=bool)
        explicit[at] = True
        ts_all = np.full(total, default_ts, dtype=np.int64)
        ts_all[at] = np.fromiter(stamps.values(), dtype=np.int64, count=len(stamps))
        if kept is not None:
            explicit, ts_all = explicit[kept], ts_all[kept]
        if explicit.any():
            ts_arr = ts_all
            tracked = refs[~explicit]
    return Batch(refs, values, ts_arr, tracked, total, len(refs), series_added)


class SampleLimitError(ScrapeError):
    """sample_limit exceeded; carries the counts Prometheus still reports for the scrape."""

    def __init__(self, total: int, added: int) -> None:
        super().__init__("sample limit exceeded")
        self.total = total
        self.added = added


def resolve_conflicts(
    conflicts: list[tuple[str, str]], exposed: Labels, target_names: frozenset[str]
) -> dict[str, str]:
    """Rename scraped labels clashing with target labels to `exported_<name>` (repeated until free)."""
    exposed_names = {n for n, _ in exposed}
    ordered = sorted(conflicts, key=lambda c: len(c[0]))
    taken: set[str] = set()
    out: dict[str, str] = {}
    for name, value in ordered:
        new = name
        while True:
            new = EXPORTED_PREFIX + new
            if new not in exposed_names and new not in target_names and new not in taken:
                break
        taken.add(new)
        out[new] = value
    return out


def verify_unique_names(lset: Labels) -> None:
    """Prometheus's TSDB refuses a series naming a label twice, failing the whole scrape."""
    for (name, _), (following, _) in pairwise(lset):
        if name == following:
            raise ScrapeError(f'label name "{name}" is not unique: invalid sample')


def verify_names_valid(lset: Labels) -> None:
    """The metric name and label names must be Prometheus's legacy names (2.42 has no UTF-8 names)."""
    valid = all(
        _METRIC_NAME_RE.fullmatch(value) if name == METRIC_NAME else is_valid_label_name(name)
        for name, value in lset
    )
    if not valid:
        rendered = ", ".join(f"{n}={json.dumps(v, ensure_ascii=False)}" for n, v in lset)
        raise ScrapeError(f"invalid metric name or label names: {{{rendered}}}")


def verify_label_limits(lset: Labels, limits: Limits) -> None:
    """Raise ScrapeError with Prometheus's text when a label limit is exceeded."""
    metric = dict(lset).get(METRIC_NAME, "")[:50]
    if limits.label_limit > 0 and len(lset) > limits.label_limit:
        raise ScrapeError(
            f"label_limit exceeded (metric: {metric}, number of labels: {len(lset)}, "
            f"limit: {limits.label_limit})"
        )
    name_limit, value_limit = limits.label_name_length_limit, limits.label_value_length_limit
    if name_limit <= 0 and value_limit <= 0:
        return
    for name, value in lset:
        if name_limit > 0 and len(name.encode()) > name_limit:
            raise ScrapeError(
                f"label_name_length_limit exceeded (metric: {metric}, label name: {name[:50]}, "
                f"length: {len(name.encode())}, limit: {name_limit})"
            )
        if value_limit > 0 and len(value.encode()) > value_limit:
            raise ScrapeError(
                f"label_value_length_limit exceeded (metric: {metric}, label name: {name[:50]}, "
                f"value: {json.dumps(value[:50], ensure_ascii=False)}, length: {len(value.encode())}, "
                f"limit: {value_limit})"
            )
