"""Following files matched by globs: new files, rotation, truncation, deletion.

:class:`Tailer` is synchronous and meant to run in one worker thread at a time
(``asyncio.to_thread(tailer.poll)``); it reads in bounded chunks with plain
``os.read`` calls and splits on ``b"\\n"`` in bulk.

- new files: globs are re-scanned every ``scan_interval`` (default 0.5 s);
- rename + create: when a path names another inode, the old descriptor is read
  to its end, kept for ``rotate_grace`` seconds for late writes, then closed;
- copytruncate: a file shorter than the read offset is read again from 0;
- deletion: the descriptor is drained and closed (no descriptor is leaked);
- an over-long line is cut at ``max_line_size`` and the rest of it skipped.
"""

from __future__ import annotations

import glob
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

ResumeFn = Callable[[str, int, int], int]
HEAD_BYTES = 128


@dataclass(eq=False)
class TailedFile:
    """One open file being followed."""

    path: str
    fd: int
    dev: int
    ino: int
    offset: int
    partial: bytes = b""
    discarding: bool = False
    draining_since: float | None = None
    truncated: bool = False
    head: bytes = b""  # the file's first bytes, to notice a copytruncate the size check misses
    state: dict = field(default_factory=dict)  # owned by the reader (parser, joiner, labels)

    @property
    def key(self) -> tuple[str, int]:
        """The position key of this file: (path, inode)."""
        return (self.path, self.ino)

    def safe_offset(self) -> int:
        """Offset of the first byte not yet handed out as a complete line."""
        return self.offset - len(self.partial)


@dataclass
class Chunk:
    """Complete lines read from one file; the first starts at ``start``."""

    file: TailedFile
    start: int
    lines: list[bytes]


class Tailer:
    """Follows the files matching ``globs``."""

    def __init__(
        self,
        globs: list[str],
        resume: ResumeFn | None = None,
        *,
        max_line_size: int = 256 * 1024,
        read_size: int = 256 << 10,
        per_file_budget: int = 4 << 20,
        step_budget: int = 1 << 20,
        scan_interval: float = 0.5,
        rotate_grace: float = 1.0,
    ) -> None:
        self.globs = globs
        self.resume = resume or (lambda path, dev, ino: 0)
        self.max_line_size = max_line_size
        self.read_size = read_size
        self.per_file_budget = per_file_budget
        self.step_budget = step_budget
        self.scan_interval = scan_interval
        self.rotate_grace = rotate_grace
        self.active: dict[str, TailedFile] = {}
        self.draining: list[TailedFile] = []
        self.released: list[TailedFile] = []
        self.bytes_read = 0
        self._next_scan = 0.0
        self._now = time.monotonic()
        self._turn = 0  # where the next poll starts among the active files (round robin)

    # -- discovery and rotation -------------------------------------------------

    def scan(self, now: float | None = None) -> None:
        """Match the globs, open new files, notice rotated and deleted ones."""
        self._now = time.monotonic() if now is None else now
        seen: set[str] = set()
        for pattern in self.globs:
            for path in glob.glob(pattern):
                seen.add(path)
        for path, tf in list(self.active.items()):
            if path not in seen:
                self._start_draining(tf, "deleted")
                del self.active[path]
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) != (tf.dev, tf.ino):
                self._start_draining(tf, "rotated")
                del self.active[path]
            elif st.st_size < tf.offset or not self._same_head(tf):
                self._truncated(tf)
        known = {(f.dev, f.ino) for f in self.active.values()} | {(f.dev, f.ino) for f in self.draining}
        for path in sorted(seen):
            if path not in self.active:
                self._open(path, known)

    def _open(self, path: str, known: set[tuple[int, int]]) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            log.debug("cannot open %s: %s", path, exc)
            return
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in known:
            os.close(fd)
            return
        offset = self.resume(path, st.st_dev, st.st_ino)
        if offset > st.st_size:
            offset = 0
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        tf = self.active[path] = TailedFile(path, fd, st.st_dev, st.st_ino, offset)
        if offset:
            tf.head = os.pread(fd, min(offset, HEAD_BYTES), 0)
        known.add((st.st_dev, st.st_ino))

    def add_rotated(self, path: str, rotated_path: str, offset: int) -> None:
        """Drain ``rotated_path`` (an old inode of ``path``) from ``offset``, e.g. after a restart."""
        try:
            fd = os.open(rotated_path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return
        st = os.fstat(fd)
        tf = TailedFile(path, fd, st.st_dev, st.st_ino, min(offset, st.st_size))
        os.lseek(fd, tf.offset, os.SEEK_SET)
        tf.draining_since = self._now
        self.draining.append(tf)

    def _start_draining(self, tf: TailedFile, why: str) -> None:
        log.debug("%s: %s, draining", tf.path, why)
        tf.draining_since = self._now
        self.draining.append(tf)

    # -- reading ------------------------------------------------------------------

    def poll(self, now: float | None = None) -> list[Chunk]:
        """Scan when due, then read what the files have: rotated files first, then the active
        ones round robin, at most ``per_file_budget`` per file and about ``step_budget`` in all
        (so one step's lines, and the batches made of them, stay small)."""
        now = time.monotonic() if now is None else now
        if now >= self._next_scan:
            self.scan(now)
            self._next_scan = now + self.scan_interval
        chunks: list[Chunk] = []
        left = self.step_budget
        for tf in list(self.draining):
            eof, used = self._read(tf, chunks, self.per_file_budget)
            left -= used
            if eof and tf.draining_since is not None and now - tf.draining_since >= self.rotate_grace:
                self._release(tf)
        files = list(self.active.values())
        n = len(files)
        for i in range(n):
            if left <= 0:
                self._turn = (self._turn + i) % n
                break
            _, used = self._read(files[(self._turn + i) % n], chunks, min(left, self.per_file_budget))
            left -= used
        return chunks

    def _release(self, tf: TailedFile) -> None:
        self.draining.remove(tf)
        os.close(tf.fd)
        tf.fd = -1
        self.released.append(tf)

    def _read(self, tf: TailedFile, chunks: list[Chunk], budget: int) -> tuple[bool, int]:
        """Read up to ``budget`` bytes; return (at end of file, bytes read)."""
        used = 0
        if tf.offset and not self._same_head(tf):
            self._truncated(tf)
        while used < budget:
            try:
                data = os.read(tf.fd, min(self.read_size, budget - used))
            except OSError as exc:
                log.warning("read %s: %s", tf.path, exc)
                return True, used
            if not data:
                self._check_truncated(tf)
                return True, used
            used += len(data)
            self.bytes_read += len(data)
            if tf.offset == len(tf.head) < HEAD_BYTES:
                tf.head += data[: HEAD_BYTES - len(tf.head)]
            self._split(tf, data, chunks)
        return False, used

    def _check_truncated(self, tf: TailedFile) -> None:
        try:
            size = os.fstat(tf.fd).st_size
        except OSError:
            return
        if size < tf.offset:
            self._truncated(tf)

    def _same_head(self, tf: TailedFile) -> bool:
        """False when the first bytes changed (truncated and rewritten past our offset)."""
        if not tf.head:
            return True
        try:
            return os.pread(tf.fd, len(tf.head), 0) == tf.head
        except OSError:
            return True

    def _truncated(self, tf: TailedFile) -> None:
        log.info("%s: truncated, reading from the start", tf.path)
        os.lseek(tf.fd, 0, os.SEEK_SET)
        tf.offset = 0
        tf.partial = b""
        tf.head = b""
        tf.discarding = False
        tf.truncated = True

    def _split(self, tf: TailedFile, data: bytes, chunks: list[Chunk]) -> None:
        read_at = tf.offset
        tf.offset += len(data)
        if tf.discarding:
            nl = data.find(b"\n")
            if nl < 0:
                return
            tf.discarding = False
            read_at += nl + 1
            data = data[nl + 1 :]
        start = read_at - len(tf.partial)
        if tf.partial:
            data = tf.partial + data
        lines = data.split(b"\n")
        tail = lines.pop()
        if lines:
            chunks.append(Chunk(tf, start, lines))
        if len(tail) > self.max_line_size:
            # emit the cut line alone; skip the rest of it up to the next newline
            chunks.append(Chunk(tf, tf.offset - len(tail), [tail[: self.max_line_size]]))
            tail = b""
            tf.discarding = True
        tf.partial = tail

    def lag(self) -> dict[str, int]:
        """Bytes not yet read per active path."""
        out: dict[str, int] = {}
        for path, tf in self.active.items():
            try:
                out[path] = max(0, os.fstat(tf.fd).st_size - tf.offset)
            except OSError:
                continue
        return out

    def take_released(self) -> list[TailedFile]:
        """Files closed since the last call."""
        released, self.released = self.released, []
        return released

    def close(self) -> None:
        """Close every descriptor."""
        for tf in [*self.active.values(), *self.draining]:
            if tf.fd >= 0:
                os.close(tf.fd)
                tf.fd = -1
        self.active.clear()
        self.draining.clear()
