"""A read scope: one thread's selects answered from one read per matcher set.

A rule group evaluates many rules over the same few selectors with different windows at one
timestamp. Inside `TSDB.read_scope(spans)` the first select of a matcher set reads at least
`spans[matchers]` back from its end (the widest window the group's rules use), and the later ones, of that matcher set and any time range inside
it, are cut out of that read: one registry match, head and block read and label sort per matcher
set instead of one per rule, and a consistent view of the data for the whole group (samples
other threads append meanwhile are not seen; the thread's own appends drop what was read).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from pharos.metrics.model import Labels, Matcher

Flat = tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray]  # labels, ts, values, offsets
FetchFn = Callable[[Sequence[Matcher], int, int], Flat]


@dataclass
class _Read:
    mint: int
    maxt: int
    flat: Flat


@dataclass
class ReadScope:
    spans: dict[tuple[Matcher, ...], int]  # per matcher set: how far back to read at least
    reads: dict[tuple[Matcher, ...], _Read] = field(default_factory=dict)

    def select_flat(self, matchers: Sequence[Matcher], mint: int, maxt: int, fetch: FetchFn) -> Flat:
        """The series of `matchers` with samples in [mint, maxt], from the scope's read of them."""
        key = tuple(matchers)
        read = self.reads.get(key)
        if read is None or read.mint > mint or read.maxt < maxt:
            lo = min(mint, maxt - self.spans.get(key, 0))
            read = self.reads[key] = _Read(lo, maxt, fetch(matchers, lo, maxt))
        return cut(read.flat, mint, maxt)

    def clear(self) -> None:
        """Forget what was read (the data changed)."""
        self.reads.clear()


def cut(flat: Flat, mint: int, maxt: int) -> Flat:
    """The samples within [mint, maxt], dropping series left without any."""
    labels, ts, values, offsets = flat
    keep = (ts >= mint) & (ts <= maxt)
    if keep.all():
        return flat
    counts = np.add.reduceat(keep.astype(np.int64), offsets[:-1]) if len(ts) else np.zeros(0, np.int64)
    has = counts > 0
    out = np.zeros(int(has.sum()) + 1, np.int64)
    out[1:] = np.cumsum(counts[has])
    return [ls for ls, h in zip(labels, has.tolist(), strict=True) if h], ts[keep], values[keep], out
