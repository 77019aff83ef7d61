"""One scrape loop per target: wait for its offset, then fetch -> parse -> ingest -> append
every interval, writing the synthetic series and staleness markers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import aiohttp
import numpy as np

from pharos.metrics.exposition.parser import ParseCache, ParseError, format_from_content_type, parse_columns
from pharos.metrics.model import METRIC_NAME, STALE_NAN, Labels, make_labels
from pharos.metrics.scrape import metrics
from pharos.metrics.scrape.client import ScrapeError, fetch
from pharos.metrics.scrape.ingest import Batch, Ingester, SampleLimitError, SeriesCache
from pharos.metrics.scrape.settings import ScrapeSettings
from pharos.metrics.scrape.target import Target
from pharos.metrics.tsdb.db import TSDB

log = logging.getLogger(__name__)

REPORT_NAMES = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)
# A scrape starting this close to its slot is stamped with the slot time (as Prometheus does),
# which keeps timestamps evenly spaced and cheap to store.
TIMESTAMP_TOLERANCE = 0.005
_LIMIT_PREFIXES = ("sample limit", "label_limit", "label_name_length", "label_value_length", "body size")


class ScrapeLoop:
    """Scrapes one target on its schedule and keeps its health for /api/v1/targets."""

    def __init__(
        self,
        target: Target,
        settings: ScrapeSettings,
        session: aiohttp.ClientSession,
        tsdb: TSDB,
        jitter_seed: int,
        cache: SeriesCache | None = None,
    ) -> None:
        self.target = target
        self.settings = settings
        self.session = session
        self.tsdb = tsdb
        self.jitter_seed = jitter_seed
        self.cache = cache if cache is not None else SeriesCache()
        self.ingester = Ingester(target.labels, settings, tsdb.get_ref, self.cache)
        self.parse_cache = ParseCache()
        self.health = "unknown"
        self.last_error = ""
        self.last_scrape = 0.0
        self.last_scrape_duration = 0.0
        self.last_ts_ms = 0
        self._report_refs: np.ndarray | None = None
        self._task: asyncio.Task[None] | None = None
        job = settings.job_name
        self._m_scrapes = metrics.SCRAPES.labels(job)
        self._m_failures = metrics.SCRAPE_FAILURES.labels(job)
        self._m_scraped = metrics.SAMPLES_SCRAPED.labels(job)
        self._m_appended = metrics.SAMPLES_APPENDED.labels(job)
        self._m_stale = metrics.STALE_MARKERS.labels(job)
        self._m_limits = metrics.LIMIT_FAILURES.labels(job)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Run the loop as a task on the current event loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"scrape {self.target.url}")

    async def stop(self) -> None:
        """Cancel the loop (an in-flight scrape is abandoned, nothing of it appended)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        interval = self.target.interval
        await asyncio.sleep(self.target.offset(interval, self.jitter_seed, time.time()))
        slot = time.time()
        while True:
            now = time.time()
            stamp = slot if abs(now - slot) <= TIMESTAMP_TOLERANCE else now
            try:
                await self.scrape_once(int(stamp * 1000))
            except Exception:  # a bug must not kill the loop
                log.exception("scrape of %s failed unexpectedly", self.target.url)
            slot += interval
            now = time.time()
            if slot < now:
                slot += (int((now - slot) / interval) + 1) * interval
            await asyncio.sleep(slot - now)

    # -- one scrape --------------------------------------------------------------------------

    async def scrape_once(self, ts_ms: int | None = None) -> None:
        """Scrape now, append the samples (or stale markers on failure) and the report series."""
        start = time.time()
        ts_ms = int(start * 1000) if ts_ms is None else ts_ms
        self._m_scrapes.inc()
        batch: Batch | None = None
        error = ""
        total = added = 0
        try:
            resp = await fetch(
                self.session,
                self.target.url,
                self.settings.http,
                self.target.timeout,
                self.settings.limits.body_size_limit,
            )
            columns = parse_columns(resp.body, format_from_content_type(resp.content_type), self.parse_cache)
            total = len(columns.keys)
            batch = self.ingester.ingest(columns, ts_ms)
            self.cache.metadata = columns.metadata
        except SampleLimitError as exc:
            error = str(exc)
            total, added = exc.total, exc.added
        except (ScrapeError, ParseError) as exc:
            error = str(exc) or type(exc).__name__
        except (ValueError, TypeError, UnicodeError) as exc:  # a parser/relabel bug: fail this scrape
            log.exception("scrape of %s failed", self.target.url)
            error = f"{type(exc).__name__}: {exc}"
        duration = time.time() - start
        try:
            self._commit(batch, ts_ms, duration, error, total, added)
        except Exception as exc:
            log.exception("appending the scrape of %s failed", self.target.url)
            error = f"append failed: {exc}"
        self._record_health(start, duration, error)

    def _commit(
        self, batch: Batch | None, ts_ms: int, duration: float, error: str, total: int, added: int
    ) -> None:
        """One TSDB.append per scrape: samples, staleness markers and the report series."""
        if batch is not None:
            stale = self.cache.stale_refs(batch.tracked)
            report = (1.0, duration, float(batch.total), float(batch.added), float(batch.series_added))
        else:
            stale = self.cache.prev_refs
            report = (0.0, duration, float(total), float(added), 0.0)
        report_refs = self.report_refs()
        refs = [report_refs, stale]
        values = [np.array(report), np.full(len(stale), STALE_NAN)]
        if batch is not None:
            refs.append(batch.refs)
            values.append(batch.values)
        ts = np.array([ts_ms], dtype=np.int64)
        if batch is not None and batch.timestamps is not None:
            ts = np.concatenate([np.full(len(report_refs) + len(stale), ts_ms, np.int64), batch.timestamps])
        self.tsdb.append(np.concatenate(refs), ts, np.concatenate(values))
        self.cache.prev_refs = batch.tracked if batch is not None else stale[:0]
        self.last_ts_ms = ts_ms
        self._m_stale.inc(len(stale))
        if batch is not None:
            self._m_scraped.inc(batch.total)
            self._m_appended.inc(batch.added)

    def _record_health(self, start: float, duration: float, error: str) -> None:
        self.last_scrape = start
        self.last_scrape_duration = duration
        self.last_error = error
        self.health = "down" if error else "up"
        if error:
            self._m_failures.inc()
            if error.startswith(_LIMIT_PREFIXES):
                self._m_limits.inc()

    def report_refs(self) -> np.ndarray:
        """TSDB refs of up, scrape_duration_seconds, ... with this target's labels."""
        if self._report_refs is None:
            refs = [self.tsdb.get_ref(report_labels(self.target.labels, n)) for n in REPORT_NAMES]
            self._report_refs = np.array(refs, dtype=np.int64)
        return self._report_refs

    def end_of_run_refs(self) -> np.ndarray:
        """Refs that get staleness markers when this target goes away."""
        if self.last_ts_ms == 0:
            return np.empty(0, dtype=np.int64)
        return np.concatenate([self.cache.prev_refs, self.report_refs()])

    def write_stale_markers(self, ts_ms: int, exclude: np.ndarray | None = None) -> int:
        """Mark every series of this target stale at `ts_ms` (except refs in `exclude`)."""
        refs = self.end_of_run_refs()
        if exclude is not None and len(exclude) and len(refs):
            refs = refs[~np.isin(refs, exclude)]
        if len(refs) == 0:
            return 0
        self.tsdb.append(refs, np.full(len(refs), ts_ms, np.int64), np.full(len(refs), STALE_NAN))
        self.cache.prev_refs = self.cache.prev_refs[:0]
        self._m_stale.inc(len(refs))
        return len(refs)


def report_labels(target_labels: Labels, name: str) -> Labels:
    """The label set of a synthetic series: the target labels and `__name__`."""
    return make_labels([*target_labels, (METRIC_NAME, name)])
