"""The scrape manager: discovery -> relabel -> scrape loops -> TSDB appends.

INTERFACE CONTRACT (the scrape helper implements; the server and /api/v1/targets use it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pharos.config.model import PharosConfig
from pharos.metrics.model import Labels
from pharos.metrics.tsdb.db import TSDB


@dataclass
class TargetStatus:
    """One row of /api/v1/targets (Prometheus's field names)."""

    discovered_labels: dict[str, str]
    labels: dict[str, str]  # after relabelling (job, instance, ...)
    scrape_pool: str
    scrape_url: str
    global_url: str
    last_error: str
    last_scrape: float  # unix seconds, 0 before the first scrape
    last_scrape_duration: float
    health: str  # "up" | "down" | "unknown"
    scrape_interval: float
    scrape_timeout: float


@dataclass
class DroppedTarget:
    discovered_labels: dict[str, str]


@dataclass
class TargetsSnapshot:
    active: list[TargetStatus] = field(default_factory=list)
    dropped: list[DroppedTarget] = field(default_factory=list)


@dataclass
class MetricMetadataEntry:
    """One row for /api/v1/metadata and /api/v1/targets/metadata."""

    target: Labels
    metric: str
    type: str
    help: str
    unit: str


class ScrapeManager:
    def __init__(self, tsdb: TSDB) -> None:
        raise NotImplementedError

    async def apply_config(self, config: PharosConfig) -> None:
        """Start, stop or update scrape pools and loops to match `config` (also on reload)."""
        raise NotImplementedError

    async def stop(self) -> None:
        """Stop every loop; series of stopped targets get staleness markers."""
        raise NotImplementedError

    def targets(self) -> TargetsSnapshot:
        raise NotImplementedError

    def metadata(self) -> list[MetricMetadataEntry]:
        raise NotImplementedError
