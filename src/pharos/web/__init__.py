"""The web UI: built assets served from the package at `/` (SPA routes fall back to index.html)
and the dashboards API (`/api/pharos/v1/dashboards`) with its storage in the data dir."""

from pharos.web.component import WebComponent

__all__ = ["WebComponent"]
