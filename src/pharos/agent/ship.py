"""Batching and delivery to a Loki push endpoint (protobuf + snappy).

The wire format is Loki's ``logproto.PushRequest``::

    PushRequest   { repeated StreamAdapter streams = 1; }
    StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; }
    EntryAdapter  { Timestamp timestamp = 1; string line = 2;
                    repeated LabelPairAdapter structuredMetadata = 3; }
    Timestamp     { int64 seconds = 1; int32 nanos = 2; }
    LabelPair     { string name = 1; string value = 2; }

hand-encoded here, body compressed with snappy's block format.

Delivery: sealed batches wait in memory (bounded; readers are held back when
it is full). Batches are sent oldest first, one at a time; 429/5xx/network
errors are retried with exponential backoff and jitter, other 4xx go to a
dead-letter file. While the endpoint fails, queued batches move to the SQLite
spool (bounded; the oldest batch is dropped when it is full, counted and
logged). Positions advance only when a batch is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cramjam
import numpy as np
import orjson

from pharos.agent.checkpoint import Checkpoint, Marks
from pharos.agent.http import Connect, PushClient
from pharos.tasks import cancel

log = logging.getLogger(__name__)

Metadata = tuple[tuple[str, str], ...]


# -- protobuf ----------------------------------------------------------------------


def varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def length_delimited(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


def _timestamp(ns: int) -> bytes:
    secs, nanos = divmod(ns, 1_000_000_000)
    body = (b"\x08" + varint(secs) if secs else b"") + (b"\x10" + varint(nanos) if nanos else b"")
    return b"\x0a" + varint(len(body)) + body


def encode_entry(ts_ns: int, line: bytes, metadata: Metadata = ()) -> bytes:
    """One EntryAdapter message, length-prefixed as field 2 of StreamAdapter."""
    body = _timestamp(ts_ns) + b"\x12" + varint(len(line)) + line
    for name, value in metadata:
        body += length_delimited(0x1A, length_delimited(0x0A, name.encode()) + length_delimited(0x12, value.encode()))
    return b"\x12" + varint(len(body)) + body


def encode_push(streams: dict[str, list[bytes]]) -> bytes:
    """A PushRequest from labels -> already-encoded entries (see :func:`encode_entry`)."""
    parts = []
    for labels, entries in streams.items():
        inner = length_delimited(0x0A, labels.encode()) + b"".join(entries)
        parts.append(b"\x0a" + varint(len(inner)) + inner)
    return b"".join(parts)


def _varint_cols(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Varints of non-negative ``x`` as an (n, width) byte matrix and its valid-byte mask."""
    shifts = np.arange(width, dtype=np.uint64) * np.uint64(7)
    u = x.astype(np.uint64)[:, None] >> shifts
    nbytes = _varint_len(x)
    cols = np.arange(width)
    valid = cols < nbytes[:, None]
    more = cols < (nbytes - 1)[:, None]
    data = ((u & np.uint64(0x7F)) | (more * np.uint64(0x80))).astype(np.uint8)
    return data, valid


def _varint_len(x: np.ndarray) -> np.ndarray:
    """Bytes of the varint of each (non-negative) value."""
    n = np.ones(len(x), dtype=np.int64)
    u = x.astype(np.uint64)
    for k in range(1, 10):
        n += u >= np.uint64(1 << (7 * k))
    return n


def _const(n: int, byte: int, present: np.ndarray | bool = True) -> tuple[np.ndarray, np.ndarray]:
    data = np.full((n, 1), byte, dtype=np.uint8)
    valid = np.broadcast_to(np.asarray(present, dtype=bool).reshape(-1, 1), (n, 1))
    return data, valid


def encode_entries(ts_ns: list[int], lines: list[bytes]) -> bytes:
    """The EntryAdapter messages (length-prefixed as field 2 of StreamAdapter) of one stream,
    without structured metadata; the fixed-layout headers are built for all entries at once."""
    n = len(lines)
    ts = np.array(ts_ns, dtype=np.int64)
    if n == 0 or int(ts.min()) < 0:
        return b"".join(encode_entry(t, line) for t, line in zip(ts_ns, lines, strict=True))
    lens = np.fromiter(map(len, lines), dtype=np.int64, count=n)
    secs, nanos = np.divmod(ts, 1_000_000_000)
    has_s, has_n = secs > 0, nanos > 0
    ts_len = has_s * (1 + _varint_len(secs)) + has_n * (1 + _varint_len(nanos))
    body = 1 + _varint_len(ts_len) + ts_len + 1 + _varint_len(lens) + lens
    cols = [
        _const(n, 0x12),
        _varint_cols(body, 5),
        _const(n, 0x0A),
        _varint_cols(ts_len, 1),
        _const(n, 0x08, has_s),
        _masked(_varint_cols(secs, 10), has_s),
        _const(n, 0x10, has_n),
        _masked(_varint_cols(nanos, 5), has_n),
        _const(n, 0x12),
        _varint_cols(lens, 5),
    ]
    data = np.concatenate([c[0] for c in cols], axis=1)
    valid = np.concatenate([c[1] for c in cols], axis=1)
    heads = data[valid].tobytes()
    ends = np.cumsum(valid.sum(axis=1)).tolist()
    parts: list[bytes] = [b""] * (2 * n)
    parts[0::2] = [heads[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    parts[1::2] = lines
    return b"".join(parts)


def _masked(cols: tuple[np.ndarray, np.ndarray], present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cols[0], cols[1] & present[:, None]


def encode_streams(streams: dict[str, Entries]) -> bytes:
    """A PushRequest from labels -> :class:`Entries`."""
    parts = []
    for labels, entries in streams.items():
        inner = length_delimited(0x0A, labels.encode()) + entries.encode()
        parts.append(b"\x0a" + varint(len(inner)) + inner)
    return b"".join(parts)


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int | bytes]]:
    out: list[tuple[int, int | bytes]] = []
    i, n = 0, len(buf)
    while i < n:
        key, i = _read_varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, i = _read_varint(buf, i)
            out.append((num, val))
        elif wire == 2:
            size, i = _read_varint(buf, i)
            out.append((num, buf[i : i + size]))
            i += size
        elif wire == 1:
            out.append((num, buf[i : i + 8]))
            i += 8
        elif wire == 5:
            out.append((num, buf[i : i + 4]))
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return out


def decode_push(body: bytes, compressed: bool = True) -> list[tuple[str, list[tuple[int, bytes, Metadata]]]]:
    """Decode a PushRequest into [(labels, [(ts_ns, line, metadata)])] (tests, dead letters)."""
    raw = bytes(cramjam.snappy.decompress_raw(body)) if compressed else body
    streams = []
    for num, stream in _fields(raw):
        if num != 1 or not isinstance(stream, bytes):
            continue
        labels, entries = "", []
        for snum, val in _fields(stream):
            if snum == 1 and isinstance(val, bytes):
                labels = val.decode()
            elif snum == 2 and isinstance(val, bytes):
                entries.append(_decode_entry(val))
        streams.append((labels, entries))
    return streams


def _decode_entry(buf: bytes) -> tuple[int, bytes, Metadata]:
    ts, line, meta = 0, b"", []
    for num, val in _fields(buf):
        if num == 1 and isinstance(val, bytes):
            parts = dict(_fields(val))
            ts = int(parts.get(1, 0)) * 1_000_000_000 + int(parts.get(2, 0))  # type: ignore[call-overload]
        elif num == 2 and isinstance(val, bytes):
            line = val
        elif num == 3 and isinstance(val, bytes):
            pair = dict(_fields(val))
            meta.append((bytes(pair.get(1, b"")).decode(), bytes(pair.get(2, b"")).decode()))  # type: ignore[arg-type]
    return ts, line, tuple(meta)


def format_labels(labels: dict[str, str]) -> str:
    """``{a="b", c="d"}`` sorted by name, values escaped as Loki/Prometheus expect."""
    inner = ", ".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), chr(92) + "n")}"'
        for k, v in sorted(labels.items())
    )
    return "{" + inner + "}"


# -- batching ----------------------------------------------------------------------


class Entries:
    """The entries of one stream in a batch, encoded when the batch is sealed."""

    __slots__ = ("lines", "meta", "ts")

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.lines: list[bytes] = []
        self.meta: dict[int, Metadata] = {}  # entry index -> structured metadata

    def encode(self) -> bytes:
        if not self.meta:
            return encode_entries(self.ts, self.lines)
        return b"".join(
            encode_entry(t, line, self.meta.get(i, ()))
            for i, (t, line) in enumerate(zip(self.ts, self.lines, strict=True))
        )


ENTRY_OVERHEAD = 16  # bytes an entry adds besides its line (about; counts toward batch size)


@dataclass
class Batch:
    """Entries grouped by stream labels, with the positions they complete."""

    streams: dict[str, Entries] = field(default_factory=dict)
    marks: Marks = field(default_factory=dict)
    size: int = 0
    lines: int = 0
    created: float = field(default_factory=time.monotonic)

    def entries(self, labels: str) -> Entries:
        """The entries of stream ``labels`` (callers append to ``ts`` and ``lines``, then
        call :meth:`grew`)."""
        entries = self.streams.get(labels)
        if entries is None:
            self.streams[labels] = entries = Entries()
            self.size += len(labels) + 8
        return entries

    def grew(self, lines: int, size: int) -> None:
        """Account for ``lines`` entries of ``size`` line bytes appended through :meth:`entries`."""
        self.lines += lines
        self.size += size + lines * ENTRY_OVERHEAD

    def add(self, labels: str, ts_ns: int, line: bytes, metadata: Metadata = ()) -> None:
        """Append one entry to the stream ``labels``."""
        entries = self.entries(labels)
        if metadata:
            entries.meta[len(entries.ts)] = metadata
        entries.ts.append(ts_ns)
        entries.lines.append(line)
        self.grew(1, len(line))

    def encode(self) -> bytes:
        """The PushRequest (uncompressed)."""
        return encode_streams(self.streams)


@dataclass
class Sealed:
    """An encoded batch waiting for delivery."""

    body: bytes
    lines: int
    marks: Marks
    seq: int | None = None  # set when it lives in the spool


@dataclass
class ShipperStats:
    """Counters exported as ``pharos_agent_*`` metrics."""

    lines_shipped: int = 0
    bytes_shipped: int = 0
    batches_shipped: int = 0
    send_errors: int = 0
    retries: int = 0
    lines_dropped: int = 0
    bytes_dropped: int = 0
    batches_dead_lettered: int = 0
    lines_dead_lettered: int = 0


class Shipper:
    """Delivers sealed batches in order; see the module docstring."""

    def __init__(
        self,
        url: str,
        checkpoint: Checkpoint,
        *,
        max_memory: int = 8 << 20,
        max_buffer: int = 512 << 20,
        min_backoff: float = 0.1,
        max_backoff: float = 10.0,
        timeout: float = 10.0,
        tenant: str | None = None,
        dead_letter: Path | None = None,
        headers: dict[str, str] | None = None,
        connect: Connect = PushClient,
    ) -> None:
        self.url = url
        self.checkpoint = checkpoint
        self.max_memory = max_memory
        self.max_buffer = max_buffer
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.dead_letter = dead_letter
        self.headers = {"Content-Type": "application/x-protobuf", "User-Agent": "pharos-agent"}
        if tenant:
            self.headers["X-Scope-OrgID"] = tenant
        self.headers.update(headers or {})
        self._client = connect(url, self.headers, timeout)
        self.queue: deque[Sealed] = deque()
        self.memory_bytes = 0
        self.failing = False
        self.stats = ShipperStats()
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- producer side ------------------------------------------------------------

    def submit(self, batch: Batch) -> None:
        """Seal and queue ``batch`` (marks-only batches are committed once earlier ones are)."""
        body = bytes(cramjam.snappy.compress_raw(batch.encode())) if batch.lines else b""
        self.queue.append(Sealed(body, batch.lines, batch.marks))
        self.memory_bytes += len(body)
        if self.failing:
            self._spill(all_of_it=True)
        elif self.memory_bytes >= self.max_memory:
            self._room.clear()
        self._wake.set()

    async def wait_room(self) -> None:
        """Backpressure: wait until queued memory is under the limit."""
        await self._room.wait()

    def has_room(self) -> bool:
        """Queued memory is under the limit."""
        return self._room.is_set()

    def idle(self) -> bool:
        """Nothing queued in memory or on disk."""
        return not self.queue and self.checkpoint.spool_count == 0

    # -- lifecycle ----------------------------------------------------------------

    def start(self) -> None:
        """Start the sender task."""
        self._task = asyncio.create_task(self._run(), name="pharos-agent-shipper")

    async def stop(self, deadline: float = 5.0) -> None:
        """Deliver what can be delivered within ``deadline`` seconds, spool the rest."""
        end = time.monotonic() + deadline
        while not self.idle() and not self.failing and time.monotonic() < end:
            await asyncio.sleep(0.02)
        self._stopping = True
        await cancel(self._task)
        self._spill(all_of_it=True)
        self._client.close()

    # -- sender -------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while True:
            item = self._next()
            if item is None:
                self._wake.clear()
                await self._wake.wait()
                continue
            if item.lines == 0:
                self._ack(item)
                continue
            outcome = await self._send(item.body)
            if outcome == "ok":
                attempt = 0
                self.failing = False
                self.stats.lines_shipped += item.lines
                self.stats.bytes_shipped += len(item.body)
                self.stats.batches_shipped += 1
                self._ack(item)
            elif outcome == "reject":
                self._dead_letter(item)
                self._ack(item)
            else:
                self.failing = True
                self.stats.retries += 1
                self._spill(all_of_it=True)
                delay = min(self.max_backoff, self.min_backoff * 2**attempt) * random.uniform(0.5, 1.0)
                attempt = min(attempt + 1, 30)
                await asyncio.sleep(delay)

    def _next(self) -> Sealed | None:
        if self.checkpoint.spool_count:
            head = self.checkpoint.spool_head()
            if head is not None:
                seq, body, lines, marks = head
                return Sealed(body, lines, marks, seq)
        return self.queue[0] if self.queue else None

    async def _send(self, body: bytes) -> str:
        try:
            status, text = await self._client.post(body)
        except (TimeoutError, OSError) as exc:
            self.stats.send_errors += 1
            log.warning("push to %s failed: %s, will retry", self.url, str(exc) or type(exc).__name__)
            return "retry"
        if status < 300:
            return "ok"
        self.stats.send_errors += 1
        if status == 429 or status >= 500:
            log.warning("push to %s: HTTP %d, will retry", self.url, status)
            return "retry"
        log.error("push to %s rejected: HTTP %d %s", self.url, status, text[:200])
        self._last_reject = (status, text[:500].decode("utf-8", "replace"))
        return "reject"

    def _ack(self, item: Sealed) -> None:
        if item.seq is not None:
            self.checkpoint.spool_ack(item.seq, item.marks)
        else:
            popped = self.queue.popleft()
            assert popped is item
            self.memory_bytes -= len(item.body)
            self._after_memory_change()
            if item.marks:
                self.checkpoint.commit(item.marks)

    def _after_memory_change(self) -> None:
        if self.memory_bytes < self.max_memory:
            self._room.set()

    def _spill(self, all_of_it: bool) -> None:
        """Move queued batches (oldest first) into the spool, dropping the spool's oldest when full."""
        while self.queue:
            item = self.queue.popleft()
            self.memory_bytes -= len(item.body)
            self.checkpoint.spool_put(item.body, item.lines, item.marks)
            if not all_of_it:
                break
        self._after_memory_change()
        self._enforce_buffer_limit()

    def _enforce_buffer_limit(self) -> None:
        while self.checkpoint.spool_bytes > self.max_buffer and self.checkpoint.spool_count > 1:
            head = self.checkpoint.spool_head()
            if head is None:
                break
            seq, body, lines, marks = head
            self.checkpoint.spool_ack(seq, marks)
            self.stats.lines_dropped += lines
            self.stats.bytes_dropped += len(body)
            log.error(
                "disk buffer full (%d bytes): dropped the oldest batch, %d lines", self.max_buffer, lines
            )

    def _dead_letter(self, item: Sealed) -> None:
        self.stats.batches_dead_lettered += 1
        self.stats.lines_dead_lettered += item.lines
        if self.dead_letter is None:
            return
        status, reason = getattr(self, "_last_reject", (0, ""))
        record = {
            "time": time.time(),
            "status": status,
            "error": reason,
            "streams": [
                {
                    "labels": labels,
                    "entries": [[str(ts), line.decode("utf-8", "replace")] for ts, line, _ in entries],
                }
                for labels, entries in decode_push(item.body)
            ],
        }
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        with self.dead_letter.open("ab") as fh:
            fh.write(orjson.dumps(record) + b"\n")
