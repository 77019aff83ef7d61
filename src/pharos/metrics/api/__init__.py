"""The Prometheus HTTP API (/api/v1/...) served by pharos, answering as Prometheus 2.42 does.

`register(app, ctx)` mounts it; `ctx` is the running server (see `context.ApiContext`).
"""

from pharos.metrics.api.routes import register

__all__ = ["register"]
