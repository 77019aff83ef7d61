"""Follows the TSDB's WAL (`<data>/wal/<segment>`) from its end, yielding each new SAMPLES
record once: the remote-write sender sees exactly the samples the TSDB accepted. The open
segment's file descriptor keeps its data readable even after a head flush deletes the file.

Record format: see pharos.storage.wal (header `<B I I`: kind, payload length, crc32)."""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path

from pharos.metrics.tsdb.wal import SAMPLES, SampleRecord, _decode_samples
from pharos.storage.wal import HEADER, list_segments

log = logging.getLogger("pharos.remote")
_CHUNK = 8 << 20


class WalTailer:
    def __init__(self, wal_dir: Path) -> None:
        self.dir = Path(wal_dir)
        self.segment = -1
        self.fd: int | None = None
        self.offset = 0
        self.lost_segments = 0

    def _segments(self) -> list[int]:
        try:
            return list_segments(self.dir)
        except FileNotFoundError:
            return []

    def seek_end(self) -> None:
        """Start after everything written so far."""
        segments = self._segments()
        if segments and self._open(segments[-1]):
            self.offset = os.fstat(self.fd).st_size  # type: ignore[arg-type]

    def _open(self, segment: int) -> bool:
        self.close()
        try:
            self.fd = os.open(self.dir / f"{segment:08d}", os.O_RDONLY)
        except FileNotFoundError:
            return False
        self.segment, self.offset = segment, 0
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def poll(self, max_records: int = 10_000) -> list[SampleRecord]:
        """New sample records (complete ones only) since the last call."""
        out: list[SampleRecord] = []
        while len(out) < max_records:
            if self.fd is None and not self._next_segment():
                break
            # a newer segment seen before reading means this one was complete when read
            newer = any(s > self.segment for s in self._segments())
            self._read_records(out, max_records)
            if len(out) >= max_records or not newer:
                break
            assert self.fd is not None
            rest = os.fstat(self.fd).st_size - self.offset
            if rest > 0:
                log.error(
                    "remote write: skipping %d unreadable bytes at the end of WAL segment %d",
                    rest,
                    self.segment,
                )
            if not self._next_segment():
                break
        return out

    def _read_records(self, out: list[SampleRecord], limit: int) -> None:
        """Parse complete records from the current offset up to the end of what is written."""
        assert self.fd is not None
        while len(out) < limit:
            data = os.pread(self.fd, _CHUNK, self.offset)
            pos = self._parse(data, out, limit)
            if pos == 0:
                if len(data) < HEADER.size:
                    return
                length = HEADER.unpack_from(data, 0)[1] + HEADER.size
                if length <= len(data):
                    return  # a record still being written (crc does not match yet)
                data = os.pread(self.fd, length, self.offset)  # one record bigger than a chunk
                pos = self._parse(data, out, limit)
                if pos == 0:
                    return
            self.offset += pos

    @staticmethod
    def _parse(data: bytes, out: list[SampleRecord], limit: int) -> int:
        """Append the sample records wholly inside `data`; returns the bytes consumed."""
        view, pos = memoryview(data), 0
        while pos + HEADER.size <= len(data) and len(out) < limit:
            kind, length, crc = HEADER.unpack_from(view, pos)
            end = pos + HEADER.size + length
            if end > len(data):
                break
            payload = view[pos + HEADER.size : end]
            if zlib.crc32(payload) != crc:
                break
            if kind == SAMPLES:
                out.append(_decode_samples(payload))
            pos = end
        return pos

    def _next_segment(self) -> bool:
        segments = [s for s in self._segments() if s > self.segment]
        if not segments:
            return False
        if self.segment >= 0 and segments[0] != self.segment + 1:
            self.lost_segments += segments[0] - self.segment - 1
            log.error(
                "remote write: WAL segments %d..%d were removed before being read",
                self.segment + 1,
                segments[0] - 1,
            )
        return self._open(segments[0])
