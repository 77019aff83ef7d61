"""tail -> parse -> multiline -> labels -> batch, one synchronous step at a time.

:meth:`Pipeline.step` runs in a worker thread (one at a time) and returns the
batches that are ready. Each batch carries, per file, the offset before which
every line has been put into this or an earlier batch (the oldest record still
held by a parser or joiner bounds it), so positions can advance when the batch
is acknowledged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pharos.agent.checkpoint import RELEASED
from pharos.agent.formats import Entry, Parser, detect_format, make_parser
from pharos.agent.labels import LabelPolicy
from pharos.agent.multiline import Joiner, MultilineRule
from pharos.agent.ship import Batch, Entries
from pharos.agent.tail import Chunk, TailedFile, Tailer

_UNSET: Any = object()


@dataclass
class PipelineStats:
    """Counters exported as ``pharos_agent_*`` metrics."""

    lines_read: int = 0
    records: int = 0
    records_excluded: int = 0


class _FileState:
    __slots__ = ("fmt", "joiner", "labels", "labels_version", "parser")

    def __init__(self, fmt: str, parser: Parser, joiner: Joiner | None) -> None:
        self.fmt = fmt
        self.parser = parser
        self.joiner = joiner
        self.labels: dict[str, str | None] = {}
        self.labels_version = -1


class Pipeline:
    """Owns the tailer and the per-file parsing state."""

    def __init__(
        self,
        tailer: Tailer,
        policy: LabelPolicy,
        *,
        multiline: bool = True,
        rules: dict[str, MultilineRule] | None = None,
        default_rule: str | None = None,
        flush_timeout: float = 1.0,
        max_line_size: int = 256 * 1024,
        batch_bytes: int = 1 << 20,
        batch_wait: float = 1.0,
    ) -> None:
        self.tailer = tailer
        self.policy = policy
        self.multiline = multiline
        self.rules = rules or {}
        self.default_rule = default_rule
        self.flush_timeout = flush_timeout
        self.max_line_size = max_line_size
        self.batch_bytes = batch_bytes
        self.batch_wait = batch_wait
        self.batch = Batch()
        self.stats = PipelineStats()

    def step(self, now: float | None = None) -> tuple[list[Batch], bool]:
        """Read, parse and batch what is available; returns (ready batches, read anything)."""
        now = time.monotonic() if now is None else now
        now_ns = time.time_ns()
        ready: list[Batch] = []
        chunks = self.tailer.poll(now)
        for tf in self.tailer.draining:
            self._flush_held(tf)  # a rotated file's last record goes before its successor's lines
        for chunk in chunks:
            self._chunk(chunk, now, now_ns, ready)
        self._flush_expired(now)
        for tf in self.tailer.take_released():
            self._release(tf)
        if (self.batch.lines or self.batch.marks) and now - self.batch.created >= self.batch_wait:
            ready.append(self._seal())
        return ready, bool(chunks)

    def seal(self) -> Batch:
        """Close the open batch (for a stop), flushing every held record first."""
        for tf in self._files():
            self._flush_held(tf)
        return self._seal()

    def _flush_held(self, tf: TailedFile) -> None:
        st: _FileState | None = tf.state.get("s")
        if st is not None and st.joiner is not None and st.joiner.held:
            out: list[Entry] = []
            st.joiner.flush_all(out)
            self._emit(tf, st, out)
            self._mark(tf, st)

    # -- internals ----------------------------------------------------------------------

    def _files(self) -> list[TailedFile]:
        return [*self.tailer.draining, *self.tailer.active.values()]

    def _seal(self) -> Batch:
        batch, self.batch = self.batch, Batch()
        return batch

    def _state(self, tf: TailedFile, first_line: bytes) -> _FileState:
        st: _FileState | None = tf.state.get("s")
        if st is None:
            fmt = detect_format(first_line)
            joiner = None
            if self.multiline:
                rule = self.rules.get(self.policy.multiline_rule(tf.path) or self.default_rule or "")
                joiner = Joiner(rule, self.flush_timeout, self.max_line_size)
            st = tf.state["s"] = _FileState(fmt, make_parser(fmt, self.max_line_size), joiner)
        return st

    def _chunk(self, chunk: Chunk, now: float, now_ns: int, ready: list[Batch]) -> None:
        tf = chunk.file
        st = self._state(tf, chunk.lines[0])
        if tf.truncated:
            tf.truncated = False
            self._reset(tf, st)
        self.stats.lines_read += len(chunk.lines)
        entries: list[Entry] = []
        st.parser.feed(chunk.lines, chunk.start, entries, now_ns)
        if st.joiner is not None:
            joined: list[Entry] = []
            st.joiner.feed(entries, joined, now)
            if tf.draining_since is not None:
                st.joiner.flush_all(joined)  # keep order with the file that replaced it
            entries = joined
        self._emit(tf, st, entries)
        self._mark(tf, st)
        if self.batch.size >= self.batch_bytes:
            ready.append(self._seal())

    def _reset(self, tf: TailedFile, st: _FileState) -> None:
        out: list[Entry] = []
        if st.joiner is not None:
            st.joiner.flush_all(out)
        st.parser.reset()
        self._emit(tf, st, out)

    def _emit(self, tf: TailedFile, st: _FileState, entries: list[Entry]) -> None:
        if not entries:
            return
        version = self.policy.version
        if st.labels_version != version:
            st.labels = {}
            st.labels_version = version
        targets: dict[str, Entries | None] = {}
        size = count = 0
        for ts, stream, line, _off in entries:
            target = targets.get(stream, _UNSET)
            if target is _UNSET:
                target = targets[stream] = self._target(tf, st, stream)
            if target is None:
                continue
            target.ts.append(ts)
            target.lines.append(line)
            size += len(line)
            count += 1
        self.batch.grew(count, size)
        self.stats.records += len(entries)
        self.stats.records_excluded += len(entries) - count

    def _target(self, tf: TailedFile, st: _FileState, stream: str) -> Entries | None:
        """The open batch's entries for ``stream`` of ``tf`` (None: the file is excluded)."""
        labels = st.labels.get(stream, "")
        if labels == "":
            labels = st.labels[stream] = self.policy.labels(tf.path, stream)
        return None if labels is None else self.batch.entries(labels)

    def _mark(self, tf: TailedFile, st: _FileState) -> None:
        safe = tf.safe_offset()
        for pending in (st.parser.pending_start(), st.joiner.pending_start() if st.joiner else None):
            if pending is not None and pending < safe:
                safe = pending
        self.batch.marks[tf.key] = safe

    def _flush_expired(self, now: float) -> None:
        for tf in self._files():
            st: _FileState | None = tf.state.get("s")
            if st is None or st.joiner is None or not st.joiner.held:
                continue
            out: list[Entry] = []
            st.joiner.flush_expired(out, now)
            if out:
                self._emit(tf, st, out)
                self._mark(tf, st)

    def _release(self, tf: TailedFile) -> None:
        st: _FileState | None = tf.state.get("s")
        if st is not None:
            out: list[Entry] = []
            if st.joiner is not None:
                st.joiner.flush_all(out)
            self._emit(tf, st, out)
        self.batch.marks[tf.key] = RELEASED

