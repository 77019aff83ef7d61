"""The head: recent samples in memory, columnar, append-optimised.

Appends arrive as batches (a scrape: ~2000 distinct series sharing one timestamp). A batch is
kept as three numpy arrays (uint32 refs, int64 timestamp(s), float64 values; a shared timestamp
is stored once: 12 B/sample). Each batch carries a ref index (its refs
ascending, or an argsort of them), so a query binary-searches its series in every batch the
time range and ref range overlap: the cost follows the samples read, not the head's size.
`consolidate()` (from the maintenance thread) concatenates the batches into one run sorted by
ref, so the loop over batches stays short.
`freeze()` hands the samples to a flush (level-0 Parquet part) while they stay queryable until
`drop_frozen()`.

Per-series state for validation lives in flat arrays indexed by ref: newest timestamp and the
value at it (16 B/series).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pharos.storage.backend import SampleRun

NO_TS = np.iinfo(np.int64).min


@dataclass(slots=True, eq=False)
class Batch:
    """Samples in write order, with a ref index: `sorted_refs` = refs[order] ascending (order
    None when refs already ascend), so a query finds its series' samples by binary search."""

    refs: np.ndarray  # uint32
    ts: np.ndarray  # int64; length 1 = shared by all samples
    values: np.ndarray  # float64
    mint: int
    maxt: int
    sorted_refs: np.ndarray
    order: np.ndarray | None  # stable argsort of refs, None when refs ascend

    def __len__(self) -> int:
        return len(self.refs)

    def full_ts(self) -> np.ndarray:
        return np.broadcast_to(self.ts, self.refs.shape) if len(self.ts) == 1 else self.ts

    def positions(self, refs: np.ndarray) -> np.ndarray:
        """Indexes of the samples of `refs` (ascending, unique), by ref, write order within a ref."""
        lo = np.searchsorted(self.sorted_refs, refs, side="left")
        hi = np.searchsorted(self.sorted_refs, refs, side="right")
        idx = ranges(lo, hi)
        return idx if self.order is None else self.order[idx]


def ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The concatenation of arange(lo[i], hi[i]) (hi >= lo)."""
    lengths = hi - lo
    starts = np.cumsum(lengths) - lengths
    return np.repeat(lo - starts, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


@dataclass(slots=True)
class Validation:
    accept: np.ndarray  # bool mask of samples to store
    out_of_order: int
    duplicate: int
    out_of_bounds: int


def make_batch(refs: np.ndarray, ts: np.ndarray, values: np.ndarray) -> Batch:
    """A batch with its ref index (an argsort only when refs do not already ascend)."""
    if len(refs) < 2 or bool((refs[1:] >= refs[:-1]).all()):
        sorted_refs, order = refs, None
    else:
        order = np.argsort(refs, kind="stable")
        sorted_refs = refs[order]
    return Batch(refs, ts, values, int(ts.min()), int(ts.max()), sorted_refs, order)


def concat_batches(batches: list[Batch]) -> Batch:
    """One batch holding all samples of `batches`, ordered by ref (write order within a ref)."""
    if len(batches) == 1:
        return batches[0]
    refs = np.concatenate([b.refs for b in batches])
    order = np.argsort(refs, kind="stable")
    ts = np.concatenate([b.full_ts() for b in batches])[order]
    values = np.concatenate([b.values for b in batches])[order]
    return make_batch(refs[order], ts, values)


class Head:
    def __init__(self) -> None:
        self.batches: list[Batch] = []  # in append order; older consolidated runs first
        self.frozen: list[Batch] = []  # being flushed to disk; still queryable
        self.last_ts = np.full(1024, NO_TS, dtype=np.int64)
        self.last_bits = np.zeros(1024, dtype=np.uint64)  # value bits at last_ts
        self.num_samples = 0
        self.mint = NO_TS  # of batches (not frozen)
        self.maxt = NO_TS  # newest sample ever appended
        self._scratch = np.zeros(1024, dtype=np.int64)

    # -- per-series state --------------------------------------------------------------------
    def ensure_series(self, n: int) -> None:
        if n <= len(self.last_ts):
            return
        size = max(n, 2 * len(self.last_ts))
        grow = size - len(self.last_ts)
        self.last_ts = np.concatenate([self.last_ts, np.full(grow, NO_TS, dtype=np.int64)])
        self.last_bits = np.concatenate([self.last_bits, np.zeros(grow, dtype=np.uint64)])
        self._scratch = np.zeros(size, dtype=np.int64)

    def has_repeats(self, refs: np.ndarray) -> bool:
        """Whether a ref occurs twice in `refs` (O(n), no sort)."""
        idx = np.arange(len(refs))
        self._scratch[refs] = idx
        return bool((self._scratch[refs] != idx).any())

    # -- validation --------------------------------------------------------------------------
    def validate(
        self, refs: np.ndarray, ts: np.ndarray, values: np.ndarray, ooo_window: int, min_valid: int
    ) -> Validation:
        """Classify samples of distinct series; see TSDB.append for the rules."""
        last = self.last_ts[refs]
        bits = values.view(np.uint64)
        newer = ts > last
        same_ts = ts == last
        identical = same_ts & (bits == self.last_bits[refs])
        older = ts < last
        ooo_ok = older & (ts >= last - ooo_window) if ooo_window > 0 else np.zeros_like(older)
        bounds = ts < min_valid
        accept = (newer | ooo_ok) & ~bounds
        return Validation(
            accept=accept,
            out_of_order=int((older & ~ooo_ok & ~bounds).sum()),
            duplicate=int((same_ts & ~identical & ~bounds).sum()),
            out_of_bounds=int((bounds & ~identical).sum()),
        )

    def validate_slow(
        self, refs: np.ndarray, ts: np.ndarray, values: np.ndarray, ooo_window: int, min_valid: int
    ) -> Validation:
        """Sample-by-sample validation for batches that contain a series more than once."""
        accept = np.zeros(len(refs), dtype=bool)
        ooo = dup = oob = 0
        last_ts: dict[int, int] = {}
        last_bits: dict[int, int] = {}
        bits = values.view(np.uint64)
        for i, (r, t, b) in enumerate(zip(refs.tolist(), ts.tolist(), bits.tolist(), strict=True)):
            lt = last_ts.get(r, int(self.last_ts[r]))
            lb = last_bits.get(r, int(self.last_bits[r]))
            if t == lt and b == lb:
                continue
            if t < min_valid:
                oob += 1
            elif t > lt:
                accept[i] = True
                last_ts[r], last_bits[r] = t, b
            elif t == lt:
                dup += 1
            elif ooo_window > 0 and t >= lt - ooo_window:
                accept[i] = True
            else:
                ooo += 1
        return Validation(accept, ooo, dup, oob)

    # -- mutation ----------------------------------------------------------------------------
    def add(self, batch: Batch) -> None:
        """Store an accepted batch and advance per-series newest timestamps."""
        if len(batch) == 0:
            return
        self.batches.append(batch)
        self.num_samples += len(batch)
        self.mint = batch.mint if self.mint == NO_TS else min(self.mint, batch.mint)
        self.maxt = max(self.maxt, batch.maxt)
        self._advance(batch.refs, batch.full_ts(), batch.values.view(np.uint64))

    def _advance(self, refs: np.ndarray, ts: np.ndarray, bits: np.ndarray) -> None:
        if len(refs) > 1 and self.has_repeats(refs):
            order = np.lexsort((ts, refs))  # the newest sample per ref last
            refs, ts, bits = refs[order], ts[order], bits[order]
        newer = ts > self.last_ts[refs]
        # With repeats, fancy assignment keeps the last write, i.e. the newest (sorted above).
        self.last_ts[refs[newer]] = ts[newer]
        self.last_bits[refs[newer]] = bits[newer]

    def freeze(self) -> list[Batch]:
        """Move all batches to `frozen` (still queryable) and return them for flushing."""
        self.frozen.extend(self.batches)
        self.batches = []
        self.num_samples = 0
        self.mint = NO_TS
        return list(self.frozen)

    def drop_frozen(self) -> None:
        self.frozen = []

    # -- reading -----------------------------------------------------------------------------
    def snapshot(self) -> list[Batch]:
        """Batches in write order (frozen first); safe to read without the lock."""
        return self.frozen + self.batches


def collect(batches: list[Batch], refs: np.ndarray | None, mint: int, maxt: int) -> SampleRun:
    """Samples of `batches` of the series `refs` (ascending, unique; None = all) within
    [mint, maxt]; each series' samples in write order."""
    parts_r, parts_t, parts_v = [], [], []
    for b in batches:
        if b.maxt < mint or b.mint > maxt or len(b) == 0:
            continue
        if refs is None:
            idx = None
        elif len(refs) == 0 or refs[-1] < b.sorted_refs[0] or refs[0] > b.sorted_refs[-1]:
            continue
        else:
            idx = b.positions(refs)
        r, t, v = _gather(b, idx)
        if b.mint < mint or b.maxt > maxt:
            keep = (t >= mint) & (t <= maxt)
            r, t, v = r[keep], t[keep], v[keep]
        if len(r):
            parts_r.append(r)
            parts_t.append(t)
            parts_v.append(v)
    if not parts_r:
        return SampleRun(np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0, np.float64))
    if len(parts_r) == 1:
        return SampleRun(parts_r[0], parts_t[0], parts_v[0])
    return SampleRun(np.concatenate(parts_r), np.concatenate(parts_t), np.concatenate(parts_v))


def _gather(b: Batch, idx: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(refs, timestamps, values) of the samples at `idx` (None = all)."""
    if idx is None:
        return b.refs, b.full_ts(), b.values
    ts = np.full(len(idx), b.ts[0], np.int64) if len(b.ts) == 1 else b.ts[idx]
    return b.refs[idx], ts, b.values[idx]
