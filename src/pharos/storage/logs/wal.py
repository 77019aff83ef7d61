"""The log store's write-ahead log: CRC-checked records in numbered segment files.

Record: header `<B I I` (kind, payload length, crc32 of payload) then the payload.

- STREAMS: JSON `{"tenant": t, "streams": [[id, "{labels}"], ...]}` (new streams of a push)
- ENTRIES: u16 tenant length, tenant (UTF-8), then an Arrow IPC stream of one record batch
  with the columns of `ENTRY_SCHEMA` (stream id, ns timestamp, line, metadata JSON or null)

A record is written with os.write before a push is acknowledged (kill -9 loses nothing
acknowledged); a background thread fsyncs on an interval. Replay truncates a torn tail.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa

log = logging.getLogger("pharos.logs.wal")

STREAMS = 1
ENTRIES = 2
_HEADER = struct.Struct("<BII")
_U16 = struct.Struct("<H")
ENTRY_SCHEMA = pa.schema(
    [("stream", pa.uint32()), ("ts", pa.int64()), ("line", pa.string()), ("meta", pa.string())]
)


def _record(kind: int, payload: bytes) -> bytes:
    return _HEADER.pack(kind, len(payload), zlib.crc32(payload)) + payload


def encode_streams(tenant: str, streams: list[tuple[int, str]]) -> bytes:
    """A STREAMS record announcing new stream ids of `tenant`."""
    return _record(STREAMS, orjson.dumps({"tenant": tenant, "streams": streams}))


def encode_entries(tenant: str, batch: pa.RecordBatch) -> bytes:
    """An ENTRIES record holding one batch of `tenant`'s lines."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    name = tenant.encode()
    return _record(ENTRIES, _U16.pack(len(name)) + name + sink.getvalue().to_pybytes())


def _decode(kind: int, payload: bytes) -> tuple[int, str, object]:
    if kind == STREAMS:
        doc = orjson.loads(payload)
        return STREAMS, doc["tenant"], [(int(i), str(k)) for i, k in doc["streams"]]
    (n,) = _U16.unpack_from(payload, 0)
    tenant = payload[2 : 2 + n].decode()
    reader = pa.ipc.open_stream(pa.py_buffer(payload[2 + n :]))
    return ENTRIES, tenant, reader.read_all()


class LogWAL:
    """Append-only segments `wal/00000001`...; `cut()` starts a new segment for a flush."""

    def __init__(self, directory: Path, fsync_interval_s: float = 1.0) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fsync_interval_s = fsync_interval_s
        self._fd: int | None = None
        self.segment = 0
        self._dirty = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None

    def segments(self) -> list[int]:
        """Existing segment numbers, ascending."""
        return sorted(int(p.name) for p in self.dir.iterdir() if p.name.isdigit())

    def _path(self, segment: int) -> Path:
        return self.dir / f"{segment:08d}"

    def replay(self, after: int = 0) -> Iterator[tuple[int, str, object]]:
        """Yield (kind, tenant, payload) of segments numbered above `after`."""
        for seg in self.segments():
            if seg > after:
                yield from self._replay_segment(seg)

    def _replay_segment(self, seg: int) -> Iterator[tuple[int, str, object]]:
        data = self._path(seg).read_bytes()
        view, pos, end = memoryview(data), 0, len(data)
        while end - pos >= _HEADER.size:
            kind, length, crc = _HEADER.unpack_from(view, pos)
            start = pos + _HEADER.size
            if kind not in (STREAMS, ENTRIES) or start + length > end:
                break
            payload = bytes(view[start : start + length])
            if zlib.crc32(payload) != crc:
                break
            yield _decode(kind, payload)
            pos = start + length
        if pos < end:
            log.warning("log WAL segment %d: torn record at %d; truncating %d bytes", seg, pos, end - pos)
            with open(self._path(seg), "r+b") as f:
                f.truncate(pos)
                os.fsync(f.fileno())

    def start(self) -> None:
        """Open a fresh segment and start the fsync thread."""
        segs = self.segments()
        self._open((segs[-1] + 1) if segs else 1)
        self._stop.clear()
        self._syncer = threading.Thread(target=self._sync_loop, name="pharos-logwal-fsync", daemon=True)
        self._syncer.start()

    def _open(self, segment: int) -> None:
        self._fd = os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.segment = segment
        dfd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def write(self, data: bytes) -> None:
        """Write records into the OS page cache before returning."""
        with self._lock:
            if self._fd is None:
                raise RuntimeError("log WAL is not open")
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
            self._dirty = True

    def cut(self) -> int:
        """Close the current segment (fsynced) and open the next; returns the closed number."""
        with self._lock:
            closed = self.segment
            if self._fd is not None:
                os.fsync(self._fd)
                os.close(self._fd)
            self._open(closed + 1)
            self._dirty = False
            return closed

    def drop_through(self, segment: int) -> None:
        """Delete segments numbered <= `segment` (their data is in blocks)."""
        for seg in self.segments():
            if seg <= segment and seg != self.segment:
                self._path(seg).unlink(missing_ok=True)

    def sync(self) -> None:
        """fsync the current segment if written since the last sync."""
        with self._lock:
            if self._fd is not None and self._dirty:
                os.fsync(self._fd)
                self._dirty = False

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval_s):
            try:
                self.sync()
            except OSError:
                log.exception("log WAL fsync failed")

    def close(self) -> None:
        """Stop the fsync thread, fsync and close."""
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join(timeout=5)
        self.sync()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
