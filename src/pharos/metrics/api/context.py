"""What the Prometheus API needs from the running server (implemented by pharos.server)."""

from __future__ import annotations

from typing import Any, Protocol

from pharos.metrics.scrape.manager import ScrapeManager
from pharos.metrics.tsdb.db import TSDB


class ApiContext(Protocol):
    """The server state the API reads; `tsdb`/`scrape` are None until the TSDB is open."""

    tsdb: TSDB | None
    scrape: ScrapeManager | None

    def is_ready(self) -> bool:
        """True once the TSDB is open (WAL replayed) and scraping has started."""
        ...

    def config_yaml(self) -> str:
        """The configuration in force, as YAML text."""
        ...

    def flags(self) -> dict[str, str]:
        """Command-line flags, for /api/v1/status/flags."""
        ...

    def runtime_info(self) -> dict[str, Any]:
        """Figures for /api/v1/status/runtimeinfo."""
        ...
