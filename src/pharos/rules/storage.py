"""Rule storage adapters: PromQL reads and sample writes against the TSDB or an in-memory store."""

from __future__ import annotations

from typing import Any

import numpy as np

from pharos.metrics.model import Labels, Matcher, MatchOp
from pharos.metrics.promql.engine import Engine, Limits
from pharos.metrics.promql.memory import MemoryQuerier
from pharos.metrics.promql.values import PromQLError, Querier, Scalar, Vector
from pharos.metrics.tsdb.db import TSDB
from pharos.rules.rule import RuleEvalError, Sample


def instant_vector(querier: Querier, limits: Limits, expr: Any, t_ms: int) -> list[Sample]:
    """Evaluate `expr` at `t_ms` as a rule does: vector, or scalar as one unlabelled sample."""
    try:
        res = Engine(querier, limits).instant(expr, t_ms)
    except PromQLError as exc:
        raise RuleEvalError(str(exc)) from None
    value = res.value
    if isinstance(value, Vector):
        col = value.values[:, 0]
        return [(value.labels[i], float(col[i])) for i in range(value.n) if value.present[i, 0]]
    if isinstance(value, Scalar):
        return [((), float(value.values[0]))]
    raise RuleEvalError("rule result is not a vector or scalar")


def _exact(querier: Querier, labels: Labels, mint: int, maxt: int) -> tuple[int, float] | None:
    matchers = [Matcher(n, MatchOp.EQUAL, v) for n, v in labels]
    for s in querier.select(matchers, mint, maxt):
        if len(s.labels) == len(labels) and len(s.timestamps):
            return int(s.timestamps[-1]), float(s.values[-1])
    return None


class TSDBStorage:
    """Rules over the server's TSDB."""

    def __init__(self, tsdb: TSDB, limits: Limits | None = None) -> None:
        self.tsdb = tsdb
        self.limits = limits or Limits()
        self.rejected = 0

    def query(self, expr: Any, t_ms: int) -> list[Sample]:
        """Instant query against the TSDB."""
        return instant_vector(self.tsdb, self.limits, expr, t_ms)

    def append(self, samples: list[Sample], t_ms: int) -> None:
        """One TSDB append for all samples (rejected ones, e.g. duplicates, are counted)."""
        if not samples:
            return
        refs = np.array([self.tsdb.get_ref(ls) for ls, _ in samples], dtype=np.uint32)
        values = np.array([v for _, v in samples], dtype=np.float64)
        res = self.tsdb.append(refs, np.array([t_ms], dtype=np.int64), values)
        self.rejected += res.out_of_order + res.duplicate + res.out_of_bounds

    def last_sample(self, labels: Labels, mint_ms: int, maxt_ms: int) -> tuple[int, float] | None:
        """Newest sample of exactly `labels`."""
        return _exact(self.tsdb, labels, mint_ms, maxt_ms)


class MemoryStorage:
    """Rules over a MemoryQuerier (promtool-style unit tests)."""

    def __init__(self, store: MemoryQuerier | None = None, limits: Limits | None = None) -> None:
        self.store = store or MemoryQuerier()
        self.limits = limits or Limits()

    def query(self, expr: Any, t_ms: int) -> list[Sample]:
        """Instant query against the in-memory series."""
        return instant_vector(self.store, self.limits, expr, t_ms)

    def append(self, samples: list[Sample], t_ms: int) -> None:
        """Add the samples at `t_ms`."""
        for ls, v in samples:
            self.store.add(ls, np.array([t_ms]), np.array([v]))

    def last_sample(self, labels: Labels, mint_ms: int, maxt_ms: int) -> tuple[int, float] | None:
        """Newest sample of exactly `labels`."""
        return _exact(self.store, labels, mint_ms, maxt_ms)
