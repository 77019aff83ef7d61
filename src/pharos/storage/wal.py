"""Segmented write-ahead log: CRC-checked records in numbered segment files.

Shared by the TSDB's WAL (`pharos.metrics.tsdb.wal`) and the log store's WAL
(`pharos.storage.logs.wal`), which supply the record kinds and the payload codecs.

Record: header `<B I I` (kind, payload length, crc32 of payload) followed by the payload.
Segments are the files `00000001`, `00000002`, ... of one directory.

A record is written with os.write before `write` returns (a kill -9 loses nothing written);
a background thread fsyncs on an interval, and `cut` and `close` fsync (the power-loss bound).
On replay a torn or corrupt tail (a crash mid-write) is truncated and replay goes on with the
next segment.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import Generic, TypeVar

from pharos.storage.durable import fsync_path

HEADER = struct.Struct("<BII")
T = TypeVar("T")


def encode_record(kind: int, payload: bytes) -> bytes:
    """One record: the header (kind, length, crc32) then the payload."""
    return HEADER.pack(kind, len(payload), zlib.crc32(payload)) + payload


def list_segments(directory: Path) -> list[int]:
    """The segment numbers in `directory`, ascending."""
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


class SegmentLog(Generic[T]):
    """Append-only numbered segments of records; `decode(kind, payload)` reads one on replay."""

    def __init__(
        self,
        directory: Path,
        decode: Callable[[int, memoryview], T],
        kinds: Collection[int],
        *,
        name: str,
        log: logging.Logger,
        fsync_interval_s: float = 1.0,
        segment_bytes: int | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync_interval_s = fsync_interval_s
        self.segment_bytes = segment_bytes
        self.segment = 0
        self._decode = decode
        self._kinds = frozenset(kinds)
        self._name = name
        self._log = log
        self._fd: int | None = None
        self._segment_size = 0
        self._dirty = False
        self._io_lock = threading.RLock()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None

    # -- segments ----------------------------------------------------------------------------
    def segments(self) -> list[int]:
        """Existing segment numbers, ascending."""
        return list_segments(self.dir)

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:08d}"

    def size_bytes(self) -> int:
        """Bytes in all segment files."""
        return sum(self._path(s).stat().st_size for s in self.segments() if self._path(s).exists())

    def drop_below(self, segment: int) -> int:
        """Delete the segments numbered below `segment`, never the open one; returns bytes freed."""
        freed = 0
        for seg in self.segments():
            if seg < segment and seg != self.segment:
                path = self._path(seg)
                freed += path.stat().st_size
                path.unlink(missing_ok=True)
        return freed

    # -- replay ------------------------------------------------------------------------------
    def replay(self, after: int = 0) -> Iterator[T]:
        """Decoded records of the segments numbered above `after`, in log order."""
        segments = [s for s in self.segments() if s > after]
        total = sum(self._path(s).stat().st_size for s in segments)
        done, started, last_log = 0, time.monotonic(), 0.0
        for i, seg in enumerate(segments):
            data = self._path(seg).read_bytes()
            yield from self._replay_segment(seg, data)
            done += len(data)
            now = time.monotonic()
            if now - last_log > 2.0 or i == len(segments) - 1:
                last_log = now
                self._log.info(
                    "%s replay: segment %d/%d, %.1f/%.1f MB, %.1fs",
                    self._name,
                    i + 1,
                    len(segments),
                    done / 1e6,
                    total / 1e6,
                    now - started,
                )

    def _replay_segment(self, seg: int, data: bytes) -> Iterator[T]:
        view, pos, end = memoryview(data), 0, len(data)
        while end - pos >= HEADER.size:
            kind, length, crc = HEADER.unpack_from(view, pos)
            start = pos + HEADER.size
            if kind not in self._kinds or start + length > end:
                break
            payload = view[start : start + length]
            if zlib.crc32(payload) != crc:
                break
            yield self._decode(kind, payload)
            pos = start + length
        if pos < end:
            self._log.warning(
                "%s segment %d: torn or corrupt record at offset %d; truncating %d bytes",
                self._name,
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
        self._open((segments[-1] + 1) if segments else 1)
        self._stop.clear()
        thread_name = f"pharos-{self._name.lower().replace(' ', '')}-fsync"
        self._syncer = threading.Thread(target=self._sync_loop, name=thread_name, daemon=True)
        self._syncer.start()

    def _open(self, segment: int) -> None:
        self._fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.segment = segment
        self._segment_size = os.fstat(self._fd).st_size
        fsync_path(self.dir)

    def write(self, data: bytes) -> None:
        """Write records to the current segment (into the OS page cache before returning)."""
        if self._fd is None:
            raise RuntimeError(f"{self._name} is not open")
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self._segment_size += len(data)
        self._dirty = True
        if self.segment_bytes is not None and self._segment_size >= self.segment_bytes:
            self.cut()

    def cut(self) -> int:
        """Close the current segment (fsynced) and open the next; returns the new number."""
        with self._io_lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
            self._dirty = False
            self._open(self.segment + 1)
            return self.segment

    def sync(self) -> None:
        """fsync the current segment if written since the last sync."""
        with self._io_lock:
            if self._fd is not None and self._dirty:
                self._dirty = False
                os.fsync(self._fd)

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval_s):
            try:
                self.sync()
            except OSError:
                self._log.exception("%s fsync failed", self._name)

    def close(self) -> None:
        """Stop the fsync thread, fsync and close the current segment."""
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join()
            self._syncer = None
        with self._io_lock:
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
