"""The log store's write-ahead log: `pharos.storage.wal` segments holding these records.

- STREAMS: JSON `{"tenant": t, "streams": [[id, "{labels}"], ...]}` (new streams of a push)
- ENTRIES: u16 tenant length, tenant (UTF-8), then an Arrow IPC stream of one record batch
  with the columns of `ENTRY_SCHEMA` (stream id, ns timestamp, line, metadata JSON or null)

A record is written before a push is acknowledged (kill -9 loses nothing acknowledged).
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import orjson
import pyarrow as pa

from pharos.storage.wal import SegmentLog, encode_record

log = logging.getLogger("pharos.logs.wal")

STREAMS = 1
ENTRIES = 2
_U16 = struct.Struct("<H")
ENTRY_SCHEMA = pa.schema(
    [("stream", pa.uint32()), ("ts", pa.int64()), ("line", pa.string()), ("meta", pa.string())]
)


def encode_streams(tenant: str, streams: list[tuple[int, str]]) -> bytes:
    """A STREAMS record announcing new stream ids of `tenant`."""
    return encode_record(STREAMS, orjson.dumps({"tenant": tenant, "streams": streams}))


def encode_entries(tenant: str, batch: pa.RecordBatch) -> bytes:
    """An ENTRIES record holding one batch of `tenant`'s lines."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    name = tenant.encode()
    return encode_record(ENTRIES, _U16.pack(len(name)) + name + sink.getvalue().to_pybytes())


def _decode(kind: int, view: memoryview) -> tuple[int, str, object]:
    """(STREAMS, tenant, [(id, labels)]) or (ENTRIES, tenant, pa.Table)."""
    payload = bytes(view)
    if kind == STREAMS:
        doc = orjson.loads(payload)
        return STREAMS, doc["tenant"], [(int(i), str(k)) for i, k in doc["streams"]]
    (n,) = _U16.unpack_from(payload, 0)
    tenant = payload[2 : 2 + n].decode()
    reader = pa.ipc.open_stream(pa.py_buffer(payload[2 + n :]))
    return ENTRIES, tenant, reader.read_all()


class LogWAL(SegmentLog[tuple[int, str, object]]):
    """Append-only segments `wal/00000001`...; `cut()` starts a new segment for a flush."""

    def __init__(self, directory: Path, fsync_interval_s: float = 1.0) -> None:
        super().__init__(
            directory, _decode, (STREAMS, ENTRIES), name="log WAL", log=log, fsync_interval_s=fsync_interval_s
        )

    def write(self, data: bytes) -> None:
        """Write records into the OS page cache before returning (not racing a cut or close)."""
        with self._io_lock:
            super().write(data)

    def cut(self) -> int:
        """Close the current segment (fsynced) and open the next; returns the closed number."""
        return super().cut() - 1

    def drop_through(self, segment: int) -> None:
        """Delete segments numbered <= `segment` (their data is in blocks)."""
        self.drop_below(segment + 1)
