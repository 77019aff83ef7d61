"""Container log line formats: CRI, docker json-file and plain lines.

A parser turns raw lines (without their trailing newline) into entries
``(timestamp_ns, stream, line, start_offset)``. ``start_offset`` is the file
offset of the first raw line that went into the entry; parsers that hold
partial lines report the oldest such offset through :meth:`pending_start`, so
the reader knows how far a restart may safely skip.
"""

from __future__ import annotations

import calendar
import time
from typing import Protocol

import orjson

Entry = tuple[int, str, bytes, int]

CRI = "cri"
DOCKER = "docker"
PLAIN = "plain"

_SECONDS_CACHE: dict[bytes, int] = {}
_NS_SCALE = (1, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1)


def _epoch_seconds(prefix: bytes) -> int:
    """Seconds since the epoch of ``YYYY-MM-DDTHH:MM:SS`` (UTC), cached."""
    secs = _SECONDS_CACHE.get(prefix)
    if secs is None:
        if len(_SECONDS_CACHE) > 4096:
            _SECONDS_CACHE.clear()
        p = prefix
        secs = calendar.timegm(
            (int(p[0:4]), int(p[5:7]), int(p[8:10]), int(p[11:13]), int(p[14:16]), int(p[17:19]), 0, 0, 0)
        )
        _SECONDS_CACHE[prefix] = secs
    return secs


def parse_rfc3339_ns(ts: bytes) -> int:
    """Nanoseconds since the epoch of an RFC 3339 timestamp with optional fraction and offset."""
    secs = _epoch_seconds(ts[:19])
    n = len(ts)
    i = 19
    frac = 0
    if i < n and ts[i] == 0x2E:  # "."
        j = i + 1
        while j < n and 0x30 <= ts[j] <= 0x39:
            j += 1
        digits = ts[i + 1 : j][:9]
        if digits:
            frac = int(digits) * _NS_SCALE[len(digits)]
        i = j
    if i < n and ts[i] in (0x2B, 0x2D):  # "+" / "-"
        sign = 1 if ts[i] == 0x2B else -1
        secs -= sign * (int(ts[i + 1 : i + 3]) * 3600 + int(ts[i + 4 : i + 6]) * 60)
    return secs * 1_000_000_000 + frac


def format_rfc3339_ns(ns: int) -> str:
    """RFC 3339 with nanoseconds in UTC (the CRI timestamp layout)."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def detect_format(first_line: bytes) -> str:
    """Guess a file's format from its first complete line."""
    if first_line.startswith(b"{") and b'"log"' in first_line:
        try:
            obj = orjson.loads(first_line)
        except orjson.JSONDecodeError:
            return PLAIN
        if isinstance(obj, dict) and "log" in obj:
            return DOCKER
        return PLAIN
    parts = first_line.split(b" ", 3)
    if (
        len(parts) >= 3
        and len(parts[0]) >= 20
        and parts[0][4:5] == b"-"
        and parts[0][10:11] == b"T"
        and parts[1] in (b"stdout", b"stderr")
        and parts[2][:1] in (b"F", b"P")
    ):
        try:
            parse_rfc3339_ns(parts[0])
        except ValueError:
            return PLAIN
        return CRI
    return PLAIN


class Parser(Protocol):
    """Turns raw lines into entries; may hold partial records."""

    def feed(self, lines: list[bytes], start: int, out: list[Entry], now_ns: int) -> None: ...

    def pending_start(self) -> int | None: ...

    def reset(self) -> None: ...


class _Partials:
    """Partial-line reassembly per stream, capped at ``max_size`` bytes."""

    __slots__ = ("max_size", "parts")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.parts: dict[str, tuple[int, int, list[bytes], int]] = {}

    def add(self, stream: str, ts: int, msg: bytes, off: int) -> None:
        cur = self.parts.get(stream)
        if cur is None:
            self.parts[stream] = (ts, off, [msg], len(msg))
        elif cur[3] < self.max_size:
            cur[2].append(msg)
            self.parts[stream] = (cur[0], cur[1], cur[2], cur[3] + len(msg))

    def finish(self, stream: str, msg: bytes, out: list[Entry], ts: int, off: int) -> None:
        cur = self.parts.pop(stream, None)
        if cur is None:
            line = msg
        else:
            cur[2].append(msg)
            line = b"".join(cur[2])
            ts, off = cur[0], cur[1]
        if len(line) > self.max_size:
            line = line[: self.max_size]
        out.append((ts, stream, line, off))

    def pending_start(self) -> int | None:
        if not self.parts:
            return None
        return min(p[1] for p in self.parts.values())


class CriParser:
    """``<RFC3339Nano> <stdout|stderr> <P|F> <message>`` with P/F reassembly."""

    def __init__(self, max_line_size: int = 256 * 1024) -> None:
        self.max_line_size = max_line_size
        self.partials = _Partials(max_line_size)

    def feed(self, lines: list[bytes], start: int, out: list[Entry], now_ns: int) -> None:
        """Parse ``lines`` whose first byte is at file offset ``start``."""
        off = start
        partials = self.partials
        last_prefix = b""
        last_secs = 0
        append = out.append
        max_size = self.max_line_size
        for raw in lines:
            line_off = off
            off += len(raw) + 1
            parts = raw.split(b" ", 3)
            if len(parts) < 3:
                if raw:
                    append((now_ns, "stdout", raw[:max_size], line_off))
                continue
            ts_b, stream_b, tag = parts[0], parts[1], parts[2]
            msg = parts[3] if len(parts) == 4 else b""
            # fast path: same second as the previous line, "Z" suffix
            try:
                if ts_b[:19] == last_prefix and ts_b[-1:] == b"Z" and ts_b[19:20] == b".":
                    digits = ts_b[20:-1][:9]
                    ts = last_secs + (int(digits) * _NS_SCALE[len(digits)] if digits else 0)
                else:
                    ts = parse_rfc3339_ns(ts_b)
                    if ts_b[-1:] == b"Z":
                        last_prefix = ts_b[:19]
                        last_secs = _epoch_seconds(last_prefix) * 1_000_000_000
            except (ValueError, IndexError):
                append((now_ns, "stdout", raw[:max_size], line_off))
                continue
            stream = "stdout" if stream_b == b"stdout" else "stderr" if stream_b == b"stderr" else stream_b.decode(
                "utf-8", "replace"
            )
            if tag[:1] == b"P":
                partials.add(stream, ts, msg, line_off)
            elif partials.parts:
                partials.finish(stream, msg, out, ts, line_off)
            else:
                append((ts, stream, msg if len(msg) <= max_size else msg[:max_size], line_off))

    def pending_start(self) -> int | None:
        return self.partials.pending_start()

    def reset(self) -> None:
        self.partials.parts.clear()


class DockerParser:
    """docker json-file: ``{"log": "...\\n", "stream": "stdout", "time": "..."}``.

    Docker splits lines longer than 16 KB into records whose ``log`` lacks the
    final newline; those are reassembled here.
    """

    def __init__(self, max_line_size: int = 256 * 1024) -> None:
        self.max_line_size = max_line_size
        self.partials = _Partials(max_line_size)

    def feed(self, lines: list[bytes], start: int, out: list[Entry], now_ns: int) -> None:
        """Parse ``lines`` whose first byte is at file offset ``start``."""
        off = start
        loads = orjson.loads
        for raw in lines:
            line_off = off
            off += len(raw) + 1
            if not raw:
                continue
            try:
                obj = loads(raw)
                log = obj["log"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                out.append((now_ns, "stdout", raw[: self.max_line_size], line_off))
                continue
            stream = obj.get("stream") or "stdout"
            t = obj.get("time")
            try:
                ts = parse_rfc3339_ns(t.encode()) if t else now_ns
            except (ValueError, IndexError, AttributeError):
                ts = now_ns
            msg = log.encode("utf-8") if isinstance(log, str) else str(log).encode()
            if msg.endswith(b"\n"):
                self.partials.finish(stream, msg[:-1], out, ts, line_off)
            else:
                self.partials.add(stream, ts, msg, line_off)

    def pending_start(self) -> int | None:
        return self.partials.pending_start()

    def reset(self) -> None:
        self.partials.parts.clear()


class PlainParser:
    """Any other file: each line is an entry stamped with the read time."""

    def __init__(self, max_line_size: int = 256 * 1024) -> None:
        self.max_line_size = max_line_size

    def feed(self, lines: list[bytes], start: int, out: list[Entry], now_ns: int) -> None:
        """Each non-empty line becomes an entry."""
        off = start
        max_size = self.max_line_size
        for raw in lines:
            if raw:
                out.append((now_ns, "", raw if len(raw) <= max_size else raw[:max_size], off))
            off += len(raw) + 1

    def pending_start(self) -> int | None:
        return None

    def reset(self) -> None:
        return None


def make_parser(fmt: str, max_line_size: int) -> Parser:
    """A parser for ``fmt`` (one of CRI, DOCKER, PLAIN)."""
    if fmt == CRI:
        return CriParser(max_line_size)
    if fmt == DOCKER:
        return DockerParser(max_line_size)
    return PlainParser(max_line_size)
