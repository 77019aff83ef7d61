"""Joining multiline records: stack traces of Java, Python, Go and Node.js, or user rules.

A :class:`Joiner` holds at most one record per stream. A line either continues
the held record or starts a new one (emitting the held one). Records are also
emitted when they stop growing for ``flush_timeout`` seconds, or exceed the
size/line caps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pharos.agent.formats import Entry

# Lines that continue any record: Java/Node.js frames, Java's "... N more", causes.
_CONTINUATION = re.compile(
    rb"(?:[ \t]+at |[ \t]*\.\.\. \d+ (?:more|common frames omitted)|Caused by: |[ \t]+Suppressed: )"
)
_PY_TRACEBACK = b"Traceback (most recent call last):"
_PY_CHAIN = (
    b"During handling of the above exception",
    b"The above exception was the direct cause",
)
_GO_START = re.compile(rb"(?:panic: |fatal error: |goroutine \d+ \[)")
_GO_CONT = re.compile(
    rb"(?:$|goroutine \d+ \[|\t|\[signal |created by |exit status \d+$|panic: |[\w./*()\[\]{}%-]+\(.*\)$)"
)

# modes of the held record (built-in detection)
_PLAIN, _PY, _PY_END, _PY_CHAIN_MODE, _GO = 0, 1, 2, 3, 4


@dataclass(frozen=True)
class MultilineRule:
    """A user rule: lines matching ``firstline`` start a record; others continue it."""

    name: str
    firstline: str

    def compiled(self) -> re.Pattern[bytes]:
        """The start-line regex, compiled for bytes."""
        return re.compile(self.firstline.encode())


def _start_mode(line: bytes) -> int:
    if line.startswith(_PY_TRACEBACK):
        return _PY
    if _GO_START.match(line):
        return _GO
    return _PLAIN


def _builtin_continues(mode: int, line: bytes) -> tuple[bool, int]:
    """Whether ``line`` continues a record in ``mode``, and the record's next mode."""
    if mode == _PY:
        if line[:1] in (b" ", b"\t"):
            return True, _PY
        if line:
            return True, _PY_END  # the exception line ends the traceback
        return True, _PY
    if mode in (_PY_END, _PY_CHAIN_MODE):
        if not line:
            return True, mode
        if line.startswith(_PY_CHAIN):
            return True, _PY_CHAIN_MODE
        if mode == _PY_CHAIN_MODE and line.startswith(_PY_TRACEBACK):
            return True, _PY
        return False, mode
    if mode == _GO:
        if _GO_CONT.match(line):
            return True, _GO
        return False, mode
    if _CONTINUATION.match(line):
        return True, mode
    return False, mode


class _Held:
    __slots__ = ("lines", "mode", "off", "since", "size", "stream", "ts")

    def __init__(self, entry: Entry, mode: int, now: float) -> None:
        self.ts, self.stream, line, self.off = entry
        self.lines = [line]
        self.size = len(line)
        self.mode = mode
        self.since = now

    def entry(self) -> Entry:
        lines = self.lines
        while len(lines) > 1 and not lines[-1]:
            lines.pop()
        line = lines[0] if len(lines) == 1 else b"\n".join(lines)
        return (self.ts, self.stream, line, self.off)


class Joiner:
    """Joins the entries of one file (per stream) into multiline records."""

    def __init__(
        self,
        rule: MultilineRule | None = None,
        flush_timeout: float = 1.0,
        max_bytes: int = 256 * 1024,
        max_lines: int = 1000,
    ) -> None:
        self.firstline = rule.compiled() if rule else None
        self.flush_timeout = flush_timeout
        self.max_bytes = max_bytes
        self.max_lines = max_lines
        self.held: dict[str, _Held] = {}

    def feed(self, entries: list[Entry], out: list[Entry], now: float) -> None:
        """Join ``entries`` and append finished records to ``out``."""
        held = self.held
        firstline = self.firstline
        for entry in entries:
            stream = entry[1]
            cur = held.get(stream)
            line = entry[2]
            if cur is not None:
                if firstline is not None:
                    cont, mode = firstline.match(line) is None, cur.mode
                else:
                    cont, mode = _builtin_continues(cur.mode, line)
                if cont and cur.size < self.max_bytes and len(cur.lines) < self.max_lines:
                    cur.lines.append(line)
                    cur.size += len(line) + 1
                    cur.mode = mode
                    cur.since = now
                    continue
                out.append(cur.entry())
            held[stream] = _Held(entry, _start_mode(line) if firstline is None else _PLAIN, now)

    def flush_expired(self, out: list[Entry], now: float) -> None:
        """Emit records that have not grown for ``flush_timeout`` seconds."""
        if not self.held:
            return
        for stream, cur in list(self.held.items()):
            if now - cur.since >= self.flush_timeout:
                out.append(cur.entry())
                del self.held[stream]

    def flush_all(self, out: list[Entry]) -> None:
        """Emit every held record."""
        for cur in self.held.values():
            out.append(cur.entry())
        self.held.clear()

    def pending_start(self) -> int | None:
        """File offset of the oldest held record, if any."""
        if not self.held:
            return None
        return min(h.off for h in self.held.values())
