"""Remote-write receiver (`POST /api/v1/write`, Prometheus remote write 1.0: snappy-compressed
`prometheus.WriteRequest`) appending into the TSDB, which applies the out-of-order window."""

from __future__ import annotations

import re
from dataclasses import dataclass

import cramjam
import numpy as np
from google.protobuf.message import DecodeError

from pharos.metrics.model import Labels, make_labels
from pharos.metrics.remote.schema import WriteRequest
from pharos.metrics.tsdb.db import TSDB

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_CACHE_MAX = 2_000_000


class BadRequest(ValueError):
    """Input the receiver refuses with 400 and this message."""


@dataclass
class WriteStats:
    series: int = 0
    samples: int = 0
    appended: int = 0
    out_of_order: int = 0
    duplicate: int = 0
    out_of_bounds: int = 0

    def rejection(self) -> str | None:
        """Prometheus's message for the first kind of refused sample, if any."""
        if self.out_of_order:
            return f"out of order sample ({self.out_of_order} samples refused)"
        if self.duplicate:
            return f"duplicate sample for timestamp ({self.duplicate} samples refused)"
        if self.out_of_bounds:
            return f"out of bounds ({self.out_of_bounds} samples refused)"
        return None


def decode_snappy(body: bytes) -> bytes:
    """The snappy block format; Prometheus decodes every body so, whatever the headers say."""
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:
        raise BadRequest(f"snappy: corrupt input ({exc})") from None


def decode_write_request(data: bytes) -> WriteRequest:
    try:
        return WriteRequest.FromString(data)
    except DecodeError as exc:
        raise BadRequest(f"cannot decode remote write request: {exc}") from None


class Receiver:
    """Turns write requests into TSDB appends, caching label sets -> series refs."""

    def __init__(self) -> None:
        self._refs: dict[tuple[tuple[str, str], ...], int] = {}
        self._tsdb: TSDB | None = None
        self.samples_total = 0
        self.rejected_total = 0

    def write(self, tsdb: TSDB, req: WriteRequest) -> WriteStats:
        """Append every sample of `req`; raises BadRequest on invalid label sets."""
        if tsdb is not self._tsdb:
            self._tsdb, self._refs = tsdb, {}
        refs: list[np.ndarray] = []
        ts: list[list[int]] = []
        vals: list[list[float]] = []
        stats = WriteStats(series=len(req.timeseries))
        for series in req.timeseries:
            samples = series.samples
            if not samples:
                continue
            ref = self._ref(tsdb, series.labels)
            refs.append(np.full(len(samples), ref, dtype=np.uint32))
            ts.append([s.timestamp for s in samples])
            vals.append([s.value for s in samples])
        if refs:
            self._append(tsdb, stats, np.concatenate(refs), np.concatenate(ts), np.concatenate(vals))
        return stats

    def _ref(self, tsdb: TSDB, labels: object) -> int:
        key = tuple((lb.name, lb.value) for lb in labels)  # type: ignore[attr-defined]
        ref = self._refs.get(key)
        if ref is None:
            ref = tsdb.get_ref(validate_labels(key))
            if len(self._refs) >= _CACHE_MAX:
                self._refs.clear()
            self._refs[key] = ref
        return ref

    def _append(
        self, tsdb: TSDB, stats: WriteStats, refs: np.ndarray, ts: np.ndarray, vals: np.ndarray
    ) -> None:
        if len(np.unique(refs)) < len(refs):  # several samples per series: the TSDB wants time order
            order = np.lexsort((ts, refs))
            refs, ts, vals = refs[order], ts[order], vals[order]
        result = tsdb.append(refs, ts.astype(np.int64), vals.astype(np.float64))
        stats.samples = len(refs)
        stats.appended = result.appended
        stats.out_of_order, stats.duplicate = result.out_of_order, result.duplicate
        stats.out_of_bounds = result.out_of_bounds
        self.samples_total += result.appended
        self.rejected_total += len(refs) - result.appended


def validate_labels(pairs: tuple[tuple[str, str], ...]) -> Labels:
    """Label names must be valid and unique; empty values are dropped (Prometheus semantics)."""
    seen: set[str] = set()
    for name, _ in pairs:
        if not _LABEL_NAME.fullmatch(name):
            raise BadRequest(f"invalid label name {name!r} in {_render(pairs)}")
        if name in seen:
            raise BadRequest(f"duplicate label name {name!r} in {_render(pairs)}")
        seen.add(name)
    labels = make_labels(pairs)
    if not labels:
        raise BadRequest("a series has no labels")
    return labels


def _render(pairs: tuple[tuple[str, str], ...]) -> str:
    return "{" + ", ".join(f"{n}={v!r}" for n, v in pairs) + "}"
