"""Read positions and the on-disk buffer, in one SQLite file.

``positions(path, ino, offset)`` holds, per file, the offset up to which every
line was acknowledged by the endpoint. ``spool`` holds encoded batches that
could not be delivered yet (an endpoint outage, or a clean stop); each carries
the positions it would advance. A file is resumed from the larger of its
acknowledged offset and the offsets of its spooled batches, so a restart
neither loses nor repeats a line. Acknowledging a spooled batch deletes it and
advances the positions in one transaction.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path

import orjson

log = logging.getLogger(__name__)

Marks = dict[tuple[str, int], int]
RELEASED = -1  # a mark value: the file was closed for good, forget its row

_SCHEMA = """
CREATE TABLE IF NOT EXISTS positions (path TEXT NOT NULL, ino INTEGER NOT NULL, offset INTEGER NOT NULL,
                                      PRIMARY KEY (path, ino));
CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, lines INTEGER NOT NULL,
                                  body BLOB NOT NULL, marks BLOB NOT NULL);
"""


def _encode_marks(marks: Marks) -> bytes:
    return orjson.dumps([[p, i, o] for (p, i), o in marks.items()])


def _decode_marks(raw: bytes) -> Marks:
    return {(p, i): o for p, i, o in orjson.loads(raw)}


class Checkpoint:
    """Positions and spool; safe to call from the event loop (each call is one short transaction)."""

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = str(path)
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.lock = threading.Lock()
        row = self.db.execute("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM spool").fetchone()
        self.spool_bytes: int = row[0]
        self.spool_count: int = row[1]
        self._resume = self._load_resume()

    # -- resuming -------------------------------------------------------------------

    def _load_resume(self) -> Marks:
        marks: Marks = {}
        for path, ino, off in self.db.execute("SELECT path, ino, offset FROM positions"):
            marks[(path, ino)] = off
        for (raw,) in self.db.execute("SELECT marks FROM spool ORDER BY seq"):
            for key, off in _decode_marks(raw).items():
                if off == RELEASED:
                    marks[key] = RELEASED
                elif marks.get(key, 0) != RELEASED:
                    marks[key] = max(off, marks.get(key, 0))
        return marks

    def resume_offset(self, path: str, dev: int, ino: int) -> int:
        """Where to start reading ``path`` (inode ``ino``): 0 for an unknown file."""
        off = self._resume.get((path, ino))
        if off is None:
            # the same inode under another name (a rotated file matched by the glob)
            off = next((o for (_, i), o in self._resume.items() if i == ino), 0)
        return max(off, 0) if off != RELEASED else self._released_offset(path, ino)

    def _released_offset(self, path: str, ino: int) -> int:
        try:
            return os.stat(path).st_size
        except OSError:
            return 0

    def rotated_leftovers(self) -> list[tuple[str, int, int]]:
        """(path, ino, offset) rows whose inode no longer sits at ``path``."""
        out = []
        for (path, ino), off in self._resume.items():
            try:
                cur = os.stat(path).st_ino
            except OSError:
                cur = None
            if cur != ino and off != RELEASED:
                out.append((path, ino, off))
        return out

    # -- positions ------------------------------------------------------------------

    def commit(self, marks: Marks) -> None:
        """Advance positions (the endpoint acknowledged the lines up to these offsets)."""
        with self.lock:
            self.db.execute("BEGIN")
            self._apply(marks)
            self.db.execute("COMMIT")

    def _apply(self, marks: Marks) -> None:
        for (path, ino), off in marks.items():
            if off == RELEASED:
                self.db.execute("DELETE FROM positions WHERE path=? AND ino=?", (path, ino))
            else:
                self.db.execute(
                    "INSERT INTO positions(path, ino, offset) VALUES(?,?,?) "
                    "ON CONFLICT(path, ino) DO UPDATE SET offset=excluded.offset",
                    (path, ino, off),
                )

    def positions(self) -> Marks:
        """Every acknowledged position."""
        with self.lock:
            return {(p, i): o for p, i, o in self.db.execute("SELECT path, ino, offset FROM positions")}

    # -- spool ----------------------------------------------------------------------

    def spool_put(self, body: bytes, lines: int, marks: Marks) -> int:
        """Append an encoded batch; returns its sequence number."""
        with self.lock:
            cur = self.db.execute(
                "INSERT INTO spool(size, lines, body, marks) VALUES(?,?,?,?)",
                (len(body), lines, body, _encode_marks(marks)),
            )
            self.spool_bytes += len(body)
            self.spool_count += 1
            return int(cur.lastrowid or 0)

    def spool_head(self) -> tuple[int, bytes, int, Marks] | None:
        """The oldest spooled batch: (seq, body, lines, marks)."""
        with self.lock:
            row = self.db.execute("SELECT seq, body, lines, marks FROM spool ORDER BY seq LIMIT 1").fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], _decode_marks(row[3])

    def spool_ack(self, seq: int, marks: Marks) -> None:
        """Delete a delivered (or dropped) batch and advance its positions, atomically."""
        with self.lock:
            self.db.execute("BEGIN")
            row = self.db.execute("SELECT size FROM spool WHERE seq=?", (seq,)).fetchone()
            self.db.execute("DELETE FROM spool WHERE seq=?", (seq,))
            self._apply(marks)
            self.db.execute("COMMIT")
            if row is not None:
                self.spool_bytes -= row[0]
                self.spool_count -= 1

    def close(self) -> None:
        """Close the database."""
        with self.lock:
            self.db.close()
