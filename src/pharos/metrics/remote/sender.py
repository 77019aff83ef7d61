"""Remote-write sender: one queue per `remote_write` entry, fed with the samples the TSDB accepted
(see wal_tail), relabelled (external labels first, then write_relabel_configs), spread over shards
by series so each series stays in order, batched (max_samples_per_send / batch_send_deadline),
sent as snappy WriteRequests and retried with exponential backoff on 5xx, 429 and network errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import cramjam
import numpy as np

from pharos import __version__
from pharos.config.model import RemoteWriteConfig
from pharos.metrics.model import Labels, make_labels
from pharos.metrics.remote.config import auth_headers, queue_name
from pharos.metrics.remote.schema import Label, Sample, WriteRequest
from pharos.metrics.scrape.relabel import compile_relabel
from pharos.metrics.tsdb.wal import SampleRecord

log = logging.getLogger("pharos.remote")
LabelsOf = Callable[[int], Labels]


@dataclass
class QueueStats:
    samples_in: int = 0
    samples_sent: int = 0
    samples_failed: int = 0  # refused by the receiver (4xx): dropped
    samples_retried: int = 0
    samples_dropped: int = 0  # dropped by relabelling or the memory bound
    bytes_sent: int = 0
    highest_in_ms: int = 0
    highest_sent_ms: int = 0
    last_error: str = ""
    shards: int = 0
    pending: Callable[[], int] = field(default=lambda: 0)


class Shard:
    """Samples of a subset of series, in arrival order."""

    def __init__(self) -> None:
        self.chunks: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque()
        self.pending = 0
        self.wake = asyncio.Event()

    def put(self, refs: np.ndarray, ts: np.ndarray, values: np.ndarray) -> None:
        self.chunks.append((refs, ts, values))
        self.pending += len(refs)
        self.wake.set()

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Up to `n` of the oldest samples."""
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        need = n
        while self.chunks and need > 0:
            refs, ts, vals = self.chunks.popleft()
            if len(refs) > need:
                self.chunks.appendleft((refs[need:], ts[need:], vals[need:]))
                refs, ts, vals = refs[:need], ts[:need], vals[:need]
            parts.append((refs, ts, vals))
            need -= len(refs)
        taken = n - need
        self.pending -= taken
        if not parts:
            return np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(0)
        return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]

    def drop_oldest(self, n: int) -> int:
        return len(self.take(n)[0])


class QueueManager:
    """The queue of one remote_write entry; `run()` sends until `stop()`."""

    def __init__(self, cfg: RemoteWriteConfig, labels_of: LabelsOf, external: dict[str, str]) -> None:
        self.cfg = cfg
        self.name = queue_name(cfg)
        self.labels_of = labels_of
        self.external = external
        self.relabel = compile_relabel(cfg.write_relabel_configs)
        q = cfg.queue_config
        self.shards = [Shard() for _ in range(max(1, min(q.max_shards, max(q.min_shards, 4))))]
        self.stats = QueueStats(shards=len(self.shards), pending=self.pending)
        self._out_labels: dict[int, Labels | None] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._stopping = False
        self._last_warning = -1e9

    # -- feeding -----------------------------------------------------------------------------
    def pending(self) -> int:
        return sum(s.pending for s in self.shards)

    def _series_labels(self, ref: int) -> Labels | None:
        out = self._out_labels.get(ref, ())
        if out == ():
            labels = self.labels_of(ref)
            if self.external:
                names = {n for n, _ in labels}
                labels = make_labels([*labels, *((n, v) for n, v in self.external.items() if n not in names)])
            out = self._out_labels[ref] = self.relabel(labels) if self.relabel else labels
        return out  # type: ignore[return-value]

    def feed(self, rec: SampleRecord) -> None:
        """Queue the samples of one WAL record (series dropped by relabelling are skipped)."""
        refs = rec.refs
        ts = np.broadcast_to(rec.ts, refs.shape) if len(rec.ts) == 1 else rec.ts
        self.stats.samples_in += len(refs)
        if len(refs):
            self.stats.highest_in_ms = max(self.stats.highest_in_ms, int(ts.max()))
        keep = np.fromiter((self._series_labels(int(r)) is not None for r in refs), bool, len(refs))
        self.stats.samples_dropped += int((~keep).sum())
        refs, ts, vals = refs[keep], np.asarray(ts)[keep], rec.values[keep]
        n = len(self.shards)
        which = refs % n
        for i, shard in enumerate(self.shards):
            sel = which == i
            if sel.any():
                shard.put(refs[sel], ts[sel], vals[sel])
        self._bound_memory()

    def _bound_memory(self) -> None:
        over = self.pending() - self.cfg.queue_config.max_pending_samples
        for shard in self.shards:
            if over <= 0:
                break
            dropped = shard.drop_oldest(min(over, shard.pending))
            over -= dropped
            self.stats.samples_dropped += dropped

    # -- sending -----------------------------------------------------------------------------
    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self.cfg.remote_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._tasks = [
            asyncio.create_task(self._run_shard(s), name=f"remote-write-{self.name}") for s in self.shards
        ]

    async def stop(self, flush_deadline: float = 5.0) -> None:
        """Send what is pending for up to `flush_deadline` seconds, then stop."""
        self._stopping = True
        for s in self.shards:
            s.wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*self._tasks, return_exceptions=True), flush_deadline)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _run_shard(self, shard: Shard) -> None:
        q = self.cfg.queue_config
        while not (self._stopping and shard.pending == 0):
            if shard.pending < q.max_samples_per_send:
                await self._collect(shard, q.batch_send_deadline)
            if shard.pending:
                await self._send_with_retries(*shard.take(q.max_samples_per_send))

    async def _collect(self, shard: Shard, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while shard.pending < self.cfg.queue_config.max_samples_per_send and not self._stopping:
            left = end - time.monotonic()
            if left <= 0:
                return
            shard.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shard.wake.wait(), left)

    def encode(self, refs: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> bytes:
        """A snappy WriteRequest: one TimeSeries per series, samples in arrival order."""
        req = WriteRequest()
        order = np.argsort(refs, kind="stable")
        refs, ts, vals = refs[order], ts[order], vals[order]
        starts = np.flatnonzero(np.concatenate(([True], refs[1:] != refs[:-1])))
        ends = np.append(starts[1:], len(refs))
        ts_l, vals_l = ts.tolist(), vals.tolist()
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            series = req.timeseries.add()
            labels = self._series_labels(int(refs[s]))
            assert labels is not None
            series.labels.extend(Label(name=n, value=v) for n, v in labels)
            series.samples.extend(
                Sample(timestamp=t, value=v) for t, v in zip(ts_l[s:e], vals_l[s:e], strict=True)
            )
        return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))

    async def _send_with_retries(self, refs: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> None:
        body = self.encode(refs, ts, vals)
        backoff = self.cfg.queue_config.min_backoff
        while True:
            outcome = await self._post(body)
            if outcome == "ok":
                self.stats.samples_sent += len(refs)
                self.stats.bytes_sent += len(body)
                self.stats.highest_sent_ms = max(self.stats.highest_sent_ms, int(ts.max()))
                return
            if outcome == "fatal":
                self.stats.samples_failed += len(refs)
                return
            self.stats.samples_retried += len(refs)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.cfg.queue_config.max_backoff)

    def _headers(self) -> dict[str, str]:
        return {
            **self.cfg.headers,
            **auth_headers(self.cfg),
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "User-Agent": f"pharos/{__version__}",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        }

    async def _post(self, body: bytes) -> str:
        """'ok', 'retry' (5xx, 429, network) or 'fatal' (other 4xx: the batch is dropped)."""
        assert self._session is not None
        try:
            async with self._session.post(self.cfg.url, data=body, headers=self._headers()) as resp:
                if resp.status // 100 == 2:
                    return "ok"
                text = (await resp.text())[:512]
                self.stats.last_error = f"server returned HTTP status {resp.status}: {text.strip()}"
                retry = resp.status >= 500 or (resp.status == 429 and self.cfg.queue_config.retry_on_http_429)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.stats.last_error = f"{type(exc).__name__}: {exc}"
            retry = True
        now = time.monotonic()
        if now - self._last_warning >= 10.0:  # a down receiver should not flood the log
            self._last_warning = now
            log.warning(
                "remote write to %s failed (%s); retrying: %s", self.cfg.url, self.stats.last_error, retry
            )
        return "retry" if retry else "fatal"
