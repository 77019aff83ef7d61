"""pharos' own scrape metrics, exposed on its `/metrics` through prometheus_client.

Labelled `scrape_job` (as Prometheus's own metrics are), not `job`, which would clash with the
target label when pharos scrapes itself."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SCRAPES = Counter("pharos_scrapes", "Scrapes attempted.", ["scrape_job"])
SCRAPE_FAILURES = Counter("pharos_scrape_failures", "Scrapes that failed (up = 0).", ["scrape_job"])
SAMPLES_SCRAPED = Counter("pharos_samples_scraped", "Samples read from targets.", ["scrape_job"])
SAMPLES_APPENDED = Counter(
    "pharos_scrape_samples_appended", "Samples appended to the TSDB, after metric relabelling.", ["scrape_job"]
)
STALE_MARKERS = Counter("pharos_scrape_stale_markers", "Staleness markers written.", ["scrape_job"])
LIMIT_FAILURES = Counter(
    "pharos_scrape_limit_failures", "Scrapes failed by a sample, label or body size limit.", ["scrape_job"]
)
TARGETS = Gauge("pharos_scrape_targets", "Active scrape targets.", ["scrape_job"])
