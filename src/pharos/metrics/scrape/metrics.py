"""pharos' own scrape metrics, exposed on its `/metrics` through prometheus_client."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SCRAPES = Counter("pharos_scrapes", "Scrapes attempted.", ["job"])
SCRAPE_FAILURES = Counter("pharos_scrape_failures", "Scrapes that failed (up = 0).", ["job"])
SAMPLES_SCRAPED = Counter("pharos_samples_scraped", "Samples read from targets.", ["job"])
SAMPLES_APPENDED = Counter(
    "pharos_scrape_samples_appended", "Samples appended to the TSDB, after metric relabelling.", ["job"]
)
STALE_MARKERS = Counter("pharos_scrape_stale_markers", "Staleness markers written.", ["job"])
LIMIT_FAILURES = Counter(
    "pharos_scrape_limit_failures", "Scrapes failed by a sample, label or body size limit.", ["job"]
)
TARGETS = Gauge("pharos_scrape_targets", "Active scrape targets.", ["job"])
