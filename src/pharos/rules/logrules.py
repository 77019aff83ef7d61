"""LogQL rules (Loki's ruler): rule groups marked `source: logs` query the log store of their
tenant; what they produce goes where a metric rule's output goes.

A Loki ruler evaluates each rule as an instant LogQL metric query at the evaluation time, for
one tenant (`X-Scope-OrgID`), then remote-writes recording results and the `ALERTS` /
`ALERTS_FOR_STATE` series to a Prometheus-compatible store and sends alerts to Alertmanager.
pharos does the same in-process: `LogRuleStorage.query` runs the LogQL engine over the log
store; `append` and `last_sample` go to the TSDB storage the metric groups use, so recording
results are queryable with PromQL, and alert state, `for` restore and the notifier are shared.
The TSDB has no tenants: results of every tenant land in it as written (add a group `labels:`
entry to tell tenants apart).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from pharos.logs.engine import Engine, Matrix, QueryError
from pharos.logs.engine import Scalar as LogScalar
from pharos.logs.logql import ParseError, parse
from pharos.logs.logql.ast import LogExpr
from pharos.metrics.model import Labels, make_labels
from pharos.rules.rule import RuleEvalError, Sample

if TYPE_CHECKING:
    from pharos.rules.group import RuleStorage
    from pharos.storage.logs import LogStore

NS_PER_MS = 1_000_000
DEFAULT_MAX_SERIES = 500
StoreProvider = Callable[[], "LogStore | None"]
MaxSeries = Callable[[str], int]


def _no_store() -> LogStore | None:
    return None


def log_instant_vector(engine: Engine, tenant: str, expr: Any, t_ms: int) -> list[Sample]:
    """Evaluate a LogQL metric query (AST or text) at `t_ms` for `tenant`, as a rule does."""
    if isinstance(expr, str):
        try:
            expr = parse(expr)
        except ParseError as exc:
            raise RuleEvalError(str(exc)) from None
    if isinstance(expr, LogExpr):
        raise RuleEvalError("a rule needs a LogQL metric query, not a log query")
    t_ns = t_ms * NS_PER_MS
    try:
        value = engine.metric(tenant, expr, t_ns, t_ns, NS_PER_MS * 1000)
    except (QueryError, ValueError) as exc:
        raise RuleEvalError(str(exc)) from None
    if isinstance(value, LogScalar):
        return [((), float(value.values[0]))]
    return _samples(value)


def _samples(m: Matrix) -> list[Sample]:
    out: list[Sample] = []
    for lb, values in m.series:
        v = float(values[0])
        if not np.isnan(v):
            out.append((make_labels(lb), v))
    return out


class LogRuleStorage:
    """A RuleStorage for one tenant's LogQL groups: reads the log store, writes via `sink`."""

    def __init__(self, sink: RuleStorage, tenant: str, store: StoreProvider = _no_store,
                 max_series: MaxSeries | None = None) -> None:
        self.sink = sink
        self.tenant = tenant
        self.store = store
        self.max_series = max_series or (lambda _tenant: DEFAULT_MAX_SERIES)

    def query(self, expr: Any, t_ms: int) -> list[Sample]:
        """Instant LogQL metric query against the tenant's logs."""
        store = self.store()
        if store is None:
            raise RuleEvalError("the log store is not open")
        engine = Engine(store, self.max_series(self.tenant))
        return log_instant_vector(engine, self.tenant, expr, t_ms)

    def append(self, samples: list[Sample], t_ms: int) -> None:
        """Recording results and ALERTS series go to the metrics side."""
        self.sink.append(samples, t_ms)

    def last_sample(self, labels: Labels, mint_ms: int, maxt_ms: int) -> tuple[int, float] | None:
        """Read back from the metrics side (for `for` state restore)."""
        return self.sink.last_sample(labels, mint_ms, maxt_ms)
