"""Skip index of encoded blocks: per unit of UNIT_ROWS consecutive rows, a one-hash Bloom filter
of the line bytes' 4-grams, so a `|= "needle"` scan reads only the units that may hold it.

Grams made only of `0-9a-f` are left out (random ids and numbers hold nearly all of them, so they
would only fill the filter); a needle is checked with its other grams. Each unit's filter is built
at 2^20 bits and folded (OR of neighbours) to the smallest power of two at least three times the
number of distinct grams it holds (~25-30% of bits set). A unit may be a false positive, never a false
negative, so results stay exact: the scan still applies the filter to every row it reads.

Serialised (the block's Parquet key-value metadata `pharos.skip`, zstd): u32 UNIT_ROWS, then per
unit one byte log2(bits) followed by the packed bits.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import cramjam
import numpy as np
import pyarrow as pa

KEY = b"pharos.skip"
UNIT_ROWS = 8192
FULL_BITS = 20
MIN_BITS = 10
BITS_PER_GRAM = 3
_MULT = np.uint32(0x9E3779B1)
_BORING = np.zeros(256, dtype=bool)
_BORING[list(b"0123456789abcdef")] = True
_U32 = struct.Struct("<I")


def grams(data: np.ndarray) -> np.ndarray:
    """The 4-grams (as uint32) of a byte array that hold a byte outside 0-9a-f."""
    if len(data) < 4:
        return np.zeros(0, dtype=np.uint32)
    data = np.ascontiguousarray(data)
    g = np.ndarray((len(data) - 3,), dtype="<u4", buffer=data, strides=(1,))
    b = _BORING[data]
    return g[~(b[:-3] & b[1:-2] & b[2:-1] & b[3:])]


def _hash(g: np.ndarray) -> np.ndarray:
    return (g * _MULT) >> np.uint32(32 - FULL_BITS)


def _unit_filter(data: np.ndarray) -> bytes:
    """One unit's folded filter: log2(bits) then the packed bits."""
    full = np.zeros(1 << FULL_BITS, dtype=bool)
    full[_hash(grams(data))] = True
    set_bits = int(full.sum())
    distinct = -(1 << FULL_BITS) * np.log1p(-min(set_bits, (1 << FULL_BITS) - 1) / (1 << FULL_BITS))
    k = int(min(FULL_BITS, max(MIN_BITS, np.ceil(np.log2(max(distinct * BITS_PER_GRAM, 1))))))
    folded = full.reshape(1 << k, -1).any(axis=1)
    return bytes([k]) + np.packbits(folded).tobytes()


def build(lines: pa.Array) -> list[bytes]:
    """Filters of the units of `lines` (a string array), UNIT_ROWS lines each."""
    lines = lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines
    if not len(lines):
        return []
    offsets = np.frombuffer(lines.buffers()[1], np.int32)[lines.offset : lines.offset + len(lines) + 1]
    buf = lines.buffers()[2]
    data = np.frombuffer(buf, np.uint8) if buf is not None else np.zeros(0, np.uint8)
    out = []
    for u in range(0, len(lines), UNIT_ROWS):
        out.append(_unit_filter(data[offsets[u] : offsets[min(u + UNIT_ROWS, len(lines))]]))
    return out


def serialise(units: Sequence[bytes]) -> bytes:
    """The metadata value for a block's filters."""
    return bytes(cramjam.zstd.compress(_U32.pack(UNIT_ROWS) + b"".join(units), level=3))


class SkipIndex:
    """The unit filters of one block, parsed."""

    def __init__(self, blob: bytes) -> None:
        raw = bytes(cramjam.zstd.decompress(blob))
        (self.unit_rows,) = _U32.unpack_from(raw, 0)
        self.units: list[tuple[int, np.ndarray]] = []
        pos = 4
        while pos < len(raw):
            k = raw[pos]
            size = (1 << k) // 8
            self.units.append((k, np.frombuffer(raw, np.uint8, size, pos + 1)))
            pos += 1 + size

    def may_contain(self, needle: bytes) -> np.ndarray:
        """Per unit: False where `needle` cannot occur in any line of the unit."""
        h = np.unique(_hash(grams(np.frombuffer(needle, np.uint8))))
        out = np.ones(len(self.units), dtype=bool)
        if not len(h):
            return out
        for u, (k, bits) in enumerate(self.units):
            idx = h >> np.uint32(FULL_BITS - k)
            out[u] = bool(np.all((bits[idx >> 3] >> (7 - (idx & 7)).astype(np.uint8)) & 1))
        return out


def candidate_units(index: SkipIndex, any_of: Sequence[Sequence[str]]) -> np.ndarray:
    """Units that may hold a row passing every or-chain of `any_of` (each: needles, one must occur)."""
    keep = np.ones(len(index.units), dtype=bool)
    for values in any_of:
        hit = np.zeros(len(index.units), dtype=bool)
        for v in values:
            hit |= index.may_contain(v.encode())
        keep &= hit
    return np.flatnonzero(keep)
