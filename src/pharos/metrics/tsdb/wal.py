"""The TSDB's write-ahead log: `pharos.storage.wal` segments holding these records.

- SERIES: u32 count, then per series: u32 ref, u32 len, JSON [name, value, ...]
- SAMPLES: u32 n, u8 shared_ts, u32 refs[n], i64 ts[1 or n], f64 values[n]
  (a scrape's samples share one timestamp, so it is stored once)

A record is written before `TSDB.append` returns (a kill -9 loses nothing acknowledged).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pharos.storage.labelcodec import decode_label_blob, encode_label_blob
from pharos.storage.wal import SegmentLog, encode_record

log = logging.getLogger("pharos.tsdb")

SERIES = 1
SAMPLES = 2
_U32 = struct.Struct("<I")
_SAMPLES_HEAD = struct.Struct("<IB")
_SEGMENT_BYTES = 128 << 20


@dataclass(slots=True)
class SampleRecord:
    refs: np.ndarray  # uint32
    ts: np.ndarray  # int64, length 1 (shared) or len(refs)
    values: np.ndarray  # float64


def encode_series(entries: Sequence[tuple[int, Sequence[str]]]) -> bytes:
    parts = [_U32.pack(len(entries))]
    for ref, flat in entries:
        blob = encode_label_blob(flat)
        parts.append(struct.pack("<II", ref, len(blob)))
        parts.append(blob)
    return encode_record(SERIES, b"".join(parts))


def encode_samples(refs: np.ndarray, ts: np.ndarray, values: np.ndarray) -> bytes:
    n = len(refs)
    shared = len(ts) == 1 and n != 1
    payload = b"".join(
        (
            _SAMPLES_HEAD.pack(n, 1 if shared else 0),
            np.ascontiguousarray(refs, dtype="<u4").tobytes(),
            np.ascontiguousarray(ts, dtype="<i8").tobytes(),
            np.ascontiguousarray(values, dtype="<f8").tobytes(),
        )
    )
    return encode_record(SAMPLES, payload)


def _decode_series(payload: memoryview) -> list[tuple[int, list[str]]]:
    (count,) = _U32.unpack_from(payload, 0)
    pos, out = 4, []
    for _ in range(count):
        ref, length = struct.unpack_from("<II", payload, pos)
        pos += 8
        out.append((ref, decode_label_blob(bytes(payload[pos : pos + length]))))
        pos += length
    return out


def _decode_samples(payload: memoryview) -> SampleRecord:
    n, shared = _SAMPLES_HEAD.unpack_from(payload, 0)
    pos = _SAMPLES_HEAD.size
    refs = np.frombuffer(payload, dtype="<u4", count=n, offset=pos).copy()
    pos += 4 * n
    nts = 1 if shared else n
    ts = np.frombuffer(payload, dtype="<i8", count=nts, offset=pos).copy()
    pos += 8 * nts
    values = np.frombuffer(payload, dtype="<f8", count=n, offset=pos).copy()
    return SampleRecord(refs, ts, values)


def _decode(kind: int, payload: memoryview) -> tuple[int, object]:
    """(SERIES, [(ref, flat labels)]) or (SAMPLES, SampleRecord)."""
    return kind, (_decode_series(payload) if kind == SERIES else _decode_samples(payload))


class WAL(SegmentLog[tuple[int, object]]):
    """The TSDB's WAL: SERIES and SAMPLES records in segments of at most `segment_bytes`."""

    def __init__(self, directory: Path, fsync_interval_s: float = 1.0, segment_bytes: int = _SEGMENT_BYTES):
        super().__init__(
            directory,
            _decode,
            (SERIES, SAMPLES),
            name="WAL",
            log=log,
            fsync_interval_s=fsync_interval_s,
            segment_bytes=segment_bytes,
        )
