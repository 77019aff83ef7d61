"""Remote-write receiver (`POST /api/v1/write`, Prometheus remote write 1.0: snappy-compressed
`prometheus.WriteRequest`) appending into the TSDB, which applies the out-of-order window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from google.protobuf.message import DecodeError

from pharos.metrics.model import Labels, make_labels
from pharos.metrics.remote.schema import Label, Sample, WriteRequestRaw
from pharos.metrics.tsdb.db import TSDB
from pharos.server.inflate import InflateError, inflate

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_CACHE_MAX = 2_000_000
_PAIRS_MAX = 1_000_000


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
        return inflate(body, "snappy")
    except InflateError as exc:
        raise BadRequest(str(exc)) from None  # "snappy: corrupt input (...)" or the cap


def decode_write_request(data: bytes) -> Any:
    """A `WriteRequestRaw`: series with their label messages and samples still encoded."""
    try:
        return WriteRequestRaw.FromString(data)
    except DecodeError as exc:
        raise BadRequest(f"cannot decode remote write request: {exc}") from None


class Receiver:
    """Turns write requests into TSDB appends, caching raw label messages -> series refs.

    Per series only the cache lookup runs in Python; samples are decoded for the whole request
    at once (numpy) and appended in layers of distinct series (the TSDB's vectorised check)."""

    def __init__(self) -> None:
        self._refs: dict[tuple[bytes, ...], int] = {}
        self._pairs: dict[bytes, tuple[str, str]] = {}  # raw Label message -> (name, value)
        self._tsdb: TSDB | None = None
        self.samples_total = 0
        self.rejected_total = 0

    def write(self, tsdb: TSDB, req: Any) -> WriteStats:
        """Append every sample of `req` (see `decode_write_request`); BadRequest on invalid labels."""
        if tsdb is not self._tsdb:
            self._tsdb, self._refs = tsdb, {}
        stats = WriteStats(series=len(req.timeseries))
        refs, counts, raw = self._collect(tsdb, req)
        if raw:
            ts, vals = decode_samples(raw)
            self._append(tsdb, stats, np.repeat(np.asarray(refs, dtype=np.uint32), counts), ts, vals)
        return stats

    def _collect(self, tsdb: TSDB, req: Any) -> tuple[list[int], list[int], list[bytes]]:
        """Per series with samples: its ref and sample count; all raw samples in order."""
        refs: list[int | None] = []
        counts: list[int] = []
        raw: list[bytes] = []
        new: dict[tuple[bytes, ...], list[int]] = {}  # unknown label messages -> their positions
        cache = self._refs
        for series in req.timeseries:
            samples = series.samples
            if not samples:
                continue
            key = tuple(series.labels)
            ref = cache.get(key)
            if ref is None:
                new.setdefault(key, []).append(len(refs))
            refs.append(ref)
            counts.append(len(samples))
            raw.extend(samples)
        if new:
            self._new_refs(tsdb, new, refs)
        return refs, counts, raw  # type: ignore[return-value]

    def _new_refs(self, tsdb: TSDB, new: dict[tuple[bytes, ...], list[int]], refs: list[int | None]) -> None:
        """Resolve the request's unknown series in one TSDB call and fill their places in `refs`."""
        label_sets = [self._labels_of(key) for key in new]
        if len(self._refs) + len(new) > _CACHE_MAX:
            self._refs.clear()
        for (key, at), ref in zip(new.items(), tsdb.get_refs(label_sets), strict=True):
            self._refs[key] = ref
            for i in at:
                refs[i] = ref

    def _labels_of(self, key: tuple[bytes, ...]) -> Labels:
        """The validated label set of raw `prometheus.Label` messages; each distinct message is
        decoded and its name checked once, and sorted label sets without empty values (what
        every Prometheus sends) are taken as they are."""
        pairs = self._pairs
        if len(pairs) >= _PAIRS_MAX:
            pairs.clear()
        decoded, checked = [], True
        for raw in key:
            pair = pairs.get(raw)
            if pair is None:
                pair = decode_label(raw)
                if _LABEL_NAME.fullmatch(pair[0]):
                    pairs[raw] = pair
                else:
                    checked = False
            decoded.append(pair)
        if checked and _canonical(decoded):
            return tuple(decoded)
        return validate_labels(tuple(decoded))

    def _append(
        self, tsdb: TSDB, stats: WriteStats, refs: np.ndarray, ts: np.ndarray, vals: np.ndarray
    ) -> None:
        stats.samples = len(refs)
        for r, t, v in layers(refs, ts, vals):
            result = tsdb.append(r, t, v)
            stats.appended += result.appended
            stats.out_of_order += result.out_of_order
            stats.duplicate += result.duplicate
            stats.out_of_bounds += result.out_of_bounds
        self.samples_total += stats.appended
        self.rejected_total += stats.samples - stats.appended


Layer = tuple[np.ndarray, np.ndarray, np.ndarray]


def layers(refs: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> list[Layer]:
    """Split samples into appends of distinct series: the k-th sample (in time order) of every
    series goes into layer k, so appending the layers in order is appending sample by sample."""
    n = len(refs)
    if n < 2:
        return [(refs, ts, vals)]
    order = np.lexsort((ts, refs))
    refs, ts, vals = refs[order], ts[order], vals[order]
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(refs[1:], refs[:-1], out=first[1:])
    if first.all():
        return [(refs, ts, vals)]
    idx = np.arange(n)
    rank = idx - np.maximum.accumulate(np.where(first, idx, 0))
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.cumsum(np.bincount(rank))
    out, lo = [], 0
    for hi in bounds.tolist():
        sel = by_rank[lo:hi]
        out.append((refs[sel], ts[sel], vals[sel]))
        lo = hi
    return out


def decode_label(raw: bytes) -> tuple[str, str]:
    """(name, value) of one raw `prometheus.Label` message, interned like `make_labels`."""
    try:
        label = Label.FromString(raw)
    except DecodeError as exc:
        raise BadRequest(f"cannot decode remote write request: {exc}") from None
    interned = make_labels(((label.name, label.value),))
    return interned[0] if interned else (label.name, label.value)


def _canonical(pairs: list[tuple[str, str]]) -> bool:
    """Names strictly ascending (so unique) and no empty value: already a `Labels`."""
    prev = ""
    for name, value in pairs:
        if name <= prev or not value:
            return False
        prev = name
    return bool(pairs)


def decode_samples(raw: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (int64 ms) and values of raw `prometheus.Sample` messages, decoded with numpy
    when each is `[0x09 double] [0x10 varint]` (either field may be absent: proto3 omits
    zeros), as every Prometheus writes them; message by message otherwise."""
    fast = _decode_samples_np(raw)
    if fast is not None:
        return fast
    try:
        samples = [Sample.FromString(b) for b in raw]
    except DecodeError as exc:
        raise BadRequest(f"cannot decode remote write request: {exc}") from None
    return (
        np.array([s.timestamp for s in samples], dtype=np.int64),
        np.array([s.value for s in samples], dtype=np.float64),
    )


_POW7 = np.uint64(7) * np.arange(10, dtype=np.uint64)


def _decode_samples_np(raw: list[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    n = len(raw)
    lens = np.fromiter(map(len, raw), dtype=np.int64, count=n)
    ends = np.cumsum(lens)
    starts = ends - lens
    buf = np.frombuffer(b"".join(raw) + bytes(24), dtype=np.uint8)
    has_val = (lens >= 9) & (buf[starts] == 0x09)
    vals = np.zeros(n, dtype=np.float64)
    if has_val.any():
        at = starts[has_val, None] + np.arange(1, 9)
        vals[has_val] = buf[at].copy().view("<f8").ravel()
    p = starts + 9 * has_val
    has_ts = (p < ends) & (buf[p] == 0x10)
    vlen = np.where(has_ts, ends - p - 1, 0)
    if ((~has_ts) & (p != ends)).any() or (vlen > 10).any() or (has_ts & (vlen < 1)).any():
        return None
    ts = _varints(buf, p + 1, vlen)
    return (ts, vals) if ts is not None else None


def _varints(buf: np.ndarray, at: np.ndarray, vlen: np.ndarray) -> np.ndarray | None:
    """Varints of exactly `vlen` bytes at `at` (0 where vlen is 0); None if one is malformed."""
    width = int(vlen.max()) if len(vlen) else 0
    if width == 0:
        return np.zeros(len(at), dtype=np.int64)
    cols = np.arange(width)
    b = buf[at[:, None] + cols].astype(np.uint64)
    inside = cols < vlen[:, None]
    cont = (b & np.uint64(0x80)) != 0
    last = cols == (vlen[:, None] - 1)
    if (inside & (cont == last)).any():
        return None
    parts = np.where(inside, (b & np.uint64(0x7F)) << _POW7[:width], np.uint64(0))
    return np.bitwise_or.reduce(parts, axis=1).view(np.int64)


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
