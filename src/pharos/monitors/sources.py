"""Where monitors read data: PromQL over a querier (the TSDB or an in-memory store) and LogQL
metric queries over the log store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from pharos.metrics.promql.engine import Engine, Limits, parse
from pharos.metrics.promql.values import Querier, Scalar, Vector

Series = tuple[dict[str, str], np.ndarray, np.ndarray]  # labels, timestamps (ms), values
Sample = tuple[dict[str, str], float]
NS_PER_MS = 1_000_000


class SourceError(Exception):
    """A query that failed (the monitor keeps its states and reports the error)."""


class Sources(Protocol):
    """The queries monitors run."""

    def promql_instant(self, query: str, t_ms: int) -> list[Sample]:
        """Instant vector (or scalar as one unlabelled sample) at `t_ms`."""

    def promql_range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> list[Series]:
        """Range query over [start, end] at `step`."""

    def logql_instant(self, tenant: str, query: str, t_ms: int) -> list[Sample]:
        """A LogQL metric query's values at `t_ms`."""


class QuerySources:
    """Sources over a PromQL querier and (optionally) a log store."""

    def __init__(self, querier: Callable[[], Querier], log_store: Callable[[], Any] | None = None,
                 limits: Limits | None = None) -> None:
        from pharos.monitors import promql as _extensions  # noqa: F401  (anomaly_*, forecast*, outliers)

        self.querier = querier
        self.log_store = log_store
        self.limits = limits or Limits()

    def _engine(self) -> Engine:
        return Engine(self.querier(), self.limits)

    def promql_instant(self, query: str, t_ms: int) -> list[Sample]:
        """Instant query; a scalar is one sample without labels."""
        try:
            value = self._engine().instant(parse(query), t_ms).value
        except Exception as exc:
            raise SourceError(f"query failed: {exc}") from exc
        if isinstance(value, Scalar):
            return [({}, float(value.values[0]))]
        if not isinstance(value, Vector):
            raise SourceError("the query must return an instant vector or a scalar")
        col = value.values[:, 0]
        return [(dict(value.labels[i]), float(col[i])) for i in range(value.n) if value.present[i, 0]]

    def promql_range(self, query: str, start_ms: int, end_ms: int, step_ms: int) -> list[Series]:
        """Range query: one (labels, ts, values) per series."""
        try:
            res = self._engine().range(parse(query), start_ms, end_ms, step_ms)
        except Exception as exc:
            raise SourceError(f"query failed: {exc}") from exc
        if not isinstance(res.value, list):
            raise SourceError("the query must return an instant vector or a scalar")
        return [(dict(ls), np.asarray(ts), np.asarray(vals)) for ls, ts, vals in res.value]

    def logql_instant(self, tenant: str, query: str, t_ms: int) -> list[Sample]:
        """A LogQL metric query evaluated at one time."""
        from pharos.logs.engine import Engine as LogEngine
        from pharos.logs.engine import Matrix
        from pharos.logs.logql import parse as parse_logql

        store = self.log_store() if self.log_store is not None else None
        if store is None:
            raise SourceError("the log store is not available")
        t_ns = t_ms * NS_PER_MS
        try:
            value = LogEngine(store).metric(tenant, parse_logql(query), t_ns, t_ns, 1_000_000_000)
        except Exception as exc:
            raise SourceError(f"query failed: {exc}") from exc
        if isinstance(value, Matrix):
            return [(dict(lb), float(v[-1])) for lb, v in value.series if len(v) and not np.isnan(v[-1])]
        return [({}, float(value.values[-1]))]
