"""Page layouts: recognise a page whose lines are the previous scrape's with new values.

A target exposes the same series and comment lines scrape after scrape; only the values change.
A `PageLayout` keeps the previous page with its sample values cut out (its *frame*). When a new
page has the same frame, its values are converted as one column (numpy finds them, pyarrow
converts them) and the previous parse's series texts and metadata are reused, with no work per
line. Anything unusual (another line count, other bytes, a value the line path would not take
as it is) gives None and the caller parses the page line by line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pharos.metrics.exposition.parser import MetricMetadata

_NEWLINE, _SPACE, _HASH = 10, 32, 35
# Bytes of a value that Python's float() and pyarrow read alike (the line path's float() set).
_DECIMAL_BYTES = np.zeros(256, dtype=bool)
_DECIMAL_BYTES[np.frombuffer(b"0123456789.eE+-", dtype=np.uint8)] = True

ValueOf = Callable[[str], float | None]


class PageLayout:
    """A page's bytes around its sample values, with the series texts and metadata parsed from it."""

    __slots__ = ("frame", "keys", "lines", "metadata", "newlines", "pattern", "prefix")

    def __init__(
        self,
        keys: list[str],
        metadata: dict[str, MetricMetadata],
        newlines: int,
        lines: np.ndarray,
        prefix: np.ndarray,
        frame: np.ndarray,
    ) -> None:
        self.keys = keys  # series text of each sample, in page order (shared; never mutated)
        self.metadata = metadata  # the parse's metadata (shared; never mutated)
        self.newlines = newlines
        self.lines = lines  # index of each sample line among the page's lines
        self.prefix = prefix  # bytes from the start of each sample line to its value
        self.frame = frame  # the page without its values (uint8)
        self.pattern = np.zeros(2 * len(lines) + 1, dtype=bool)  # keep / cut, for np.repeat
        self.pattern[::2] = True

    @classmethod
    def build(cls, body: bytes, keys: list[str], metadata: dict[str, MetricMetadata]) -> PageLayout | None:
        """The layout of a page the line path took whole, without timestamps or exemplars."""
        if not body.endswith(b"\n"):
            return None
        arr = np.frombuffer(body, dtype=np.uint8)
        ends = np.flatnonzero(arr == _NEWLINE)
        starts = _line_starts(ends)
        lines = np.flatnonzero((starts != ends) & (arr[starts] != _HASH))
        if len(lines) != len(keys):
            return None
        spaces = np.flatnonzero(arr == _SPACE)
        at = np.searchsorted(spaces, ends[lines]) - 1
        if len(lines) and at.min() < 0:
            return None
        value_start = spaces[at] + 1
        prefix = value_start - starts[lines]
        if len(lines) and prefix.min() <= 1:
            return None
        layout = cls(keys, metadata, len(ends), lines, prefix, np.empty(0, dtype=np.uint8))
        layout.frame = arr[layout.mask(len(arr), value_start, ends[lines])]
        return layout

    def mask(self, size: int, value_start: np.ndarray, value_end: np.ndarray) -> np.ndarray:
        """True for the bytes of a page of `size` bytes outside its value ranges."""
        counts = np.empty(len(self.pattern), dtype=np.int64)
        counts[0] = value_start[0] if len(value_start) else size
        counts[2:-1:2] = value_start[1:] - value_end[:-1]
        counts[1::2] = value_end - value_start
        if len(value_end):
            counts[-1] = size - value_end[-1]
        return np.repeat(self.pattern, counts)

    def values(self, body: bytes, value_of: ValueOf) -> np.ndarray | None:
        """The value column of `body` if it has this layout's frame, else None."""
        arr = np.frombuffer(body, dtype=np.uint8)
        ends = np.flatnonzero(arr == _NEWLINE)
        if len(ends) != self.newlines or not body.endswith(b"\n"):
            return None
        value_start = _line_starts(ends)[self.lines] + self.prefix
        value_end = ends[self.lines]
        lengths = value_end - value_start
        if len(lengths) and lengths.min() <= 0:
            return None
        if len(arr) - int(lengths.sum()) != len(self.frame):
            return None
        keep = self.mask(len(arr), value_start, value_end)
        if not np.array_equal(arr[keep], self.frame):
            return None
        return _convert(arr[~keep], lengths, value_of)


def _line_starts(ends: np.ndarray) -> np.ndarray:
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts


def _convert(data: np.ndarray, lengths: np.ndarray, value_of: ValueOf) -> np.ndarray | None:
    """Floats of the values packed in `data`; None where the line path would not take one."""
    # pyarrow (~26 MiB) is imported on the first conversion: the agent imports this package
    # (for its /metrics writer) but never parses.
    import pyarrow as pa
    import pyarrow.compute as pc

    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    odd = ~_DECIMAL_BYTES[data]
    odd_rows = (
        np.unique(np.searchsorted(offsets, np.flatnonzero(odd), side="right") - 1) if odd.any() else None
    )
    validity = None
    if odd_rows is not None:
        valid = np.ones(len(lengths), dtype=bool)
        valid[odd_rows] = False
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    texts = pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data), validity)
    try:
        values = pc.cast(texts, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return None
    if odd_rows is None:
        return values if np.isfinite(values).all() else None
    values = values.copy()
    values[odd_rows] = 0.0
    if not np.isfinite(values).all():
        return None
    return _fill(values, odd_rows, data, offsets, value_of)


def _fill(
    values: np.ndarray, rows: np.ndarray, data: np.ndarray, offsets: np.ndarray, value_of: ValueOf
) -> np.ndarray | None:
    """Convert the few values outside the decimal set (NaN, +Inf, ...) one by one."""
    for row in rows.tolist():
        raw = data[offsets[row] : offsets[row + 1]].tobytes()
        if not raw.isascii():
            return None
        value = value_of(raw.decode("ascii"))
        if value is None:
            return None
        values[row] = value
    return values
