"""Write-ahead log: binary records with CRC in numbered segment files.

Record: header `<B I I` (type, payload length, crc32 of payload) followed by the payload.

- SERIES: u32 count, then per series: u32 ref, u32 len, JSON [name, value, ...]
- SAMPLES: u32 n, u8 shared_ts, u32 refs[n], i64 ts[1 or n], f64 values[n]
  (a scrape's samples share one timestamp, so it is stored once)

A record is written with os.write before `TSDB.append` returns (a kill -9 loses nothing
acknowledged); a background thread fsyncs on an interval (power loss bound). On replay a torn
or corrupt tail (crash mid-write) is truncated and replay goes on.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pharos.storage.labelcodec import decode_label_blob, encode_label_blob

log = logging.getLogger("pharos.tsdb")

SERIES = 1
SAMPLES = 2
_HEADER = struct.Struct("<BII")
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
    return _record(SERIES, b"".join(parts))


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
    return _record(SAMPLES, payload)


def _record(kind: int, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload), zlib.crc32(payload)) + payload


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


class WAL:
    def __init__(self, directory: Path, fsync_interval_s: float = 1.0, segment_bytes: int = _SEGMENT_BYTES):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync_interval_s = fsync_interval_s
        self.segment_bytes = segment_bytes
        self._fd: int | None = None
        self._segment = 0
        self._segment_size = 0
        self._dirty = False
        self._io_lock = threading.Lock()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None

    # -- segments ----------------------------------------------------------------------------
    def segments(self) -> list[int]:
        return sorted(int(p.name) for p in self.dir.iterdir() if p.name.isdigit())

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:08d}"

    def size_bytes(self) -> int:
        return sum(self._path(s).stat().st_size for s in self.segments() if self._path(s).exists())

    @property
    def current_segment(self) -> int:
        return self._segment

    # -- replay ------------------------------------------------------------------------------
    def replay(self) -> Iterator[tuple[int, object]]:
        """Yield (SERIES, [(ref, flat labels)]) and (SAMPLES, SampleRecord) in log order."""
        segments = self.segments()
        total = sum(self._path(s).stat().st_size for s in segments)
        done, started, last_log = 0, time.monotonic(), 0.0
        for i, seg in enumerate(segments):
            data = self._path(seg).read_bytes()
            yield from self._replay_segment(seg, data)
            done += len(data)
            now = time.monotonic()
            if now - last_log > 2.0 or i == len(segments) - 1:
                last_log = now
                log.info(
                    "WAL replay: segment %d/%d, %.1f/%.1f MB, %.1fs",
                    i + 1,
                    len(segments),
                    done / 1e6,
                    total / 1e6,
                    now - started,
                )

    def _replay_segment(self, seg: int, data: bytes) -> Iterator[tuple[int, object]]:
        view, pos, end = memoryview(data), 0, len(data)
        while pos < end:
            if end - pos < _HEADER.size:
                break
            kind, length, crc = _HEADER.unpack_from(view, pos)
            body_start = pos + _HEADER.size
            if kind not in (SERIES, SAMPLES) or body_start + length > end:
                break
            payload = view[body_start : body_start + length]
            if zlib.crc32(payload) != crc:
                break
            yield kind, (_decode_series(payload) if kind == SERIES else _decode_samples(payload))
            pos = body_start + length
        if pos < end:
            log.warning(
                "WAL segment %d: torn or corrupt record at offset %d; truncating %d bytes",
                seg,
                pos,
                end - pos,
            )
            with open(self._path(seg), "r+b") as f:
                f.truncate(pos)
                os.fsync(f.fileno())

    # -- writing -----------------------------------------------------------------------------
    def start(self) -> None:
        """Open a fresh segment for appending (after replay) and start the fsync thread."""
        segments = self.segments()
        self._open_segment((segments[-1] + 1) if segments else 1)
        self._stop.clear()
        self._syncer = threading.Thread(target=self._sync_loop, name="pharos-wal-fsync", daemon=True)
        self._syncer.start()

    def _open_segment(self, segment: int) -> None:
        self._fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._segment = segment
        self._segment_size = os.fstat(self._fd).st_size
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def write(self, data: bytes) -> None:
        """Write records to the current segment (into the OS page cache before returning)."""
        if self._fd is None:
            raise RuntimeError("WAL is not open")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._segment_size += len(data)
        self._dirty = True
        if self._segment_size >= self.segment_bytes:
            self.rotate()

    def rotate(self) -> int:
        """Start a new segment; returns its number. Earlier segments are complete."""
        with self._io_lock:
            old = self._fd
            if old is not None:
                os.fsync(old)
                os.close(old)
            self._dirty = False
            self._open_segment(self._segment + 1)
        return self._segment

    def truncate_before(self, segment: int) -> int:
        """Delete segments numbered below `segment`; returns bytes freed."""
        freed = 0
        for seg in self.segments():
            if seg < segment:
                path = self._path(seg)
                freed += path.stat().st_size
                path.unlink(missing_ok=True)
        return freed

    def sync(self) -> None:
        with self._io_lock:
            if self._fd is not None and self._dirty:
                self._dirty = False
                os.fsync(self._fd)

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval_s):
            try:
                self.sync()
            except OSError:
                log.exception("WAL fsync failed")

    def close(self) -> None:
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join()
            self._syncer = None
        with self._io_lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
