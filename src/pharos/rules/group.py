"""A rule group: its rules evaluated in order at one timestamp, staleness, `for` state restore,
and Prometheus's evaluation slot (the offset inside the interval derived from a hash of the
group's file and name, so restarts keep the same phase)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

from pharos.metrics.model import STALE_NAN, Labels, Matcher, is_stale_marker
from pharos.metrics.promql.engine import read_spans
from pharos.metrics.tsdb.db import TSDB
from pharos.rules.rule import (
    Alert,
    AlertContext,
    AlertingRule,
    Health,
    RecordingRule,
    Rule,
    RuleEvalError,
    Sample,
)
from pharos.rules.rulefile import GroupDef, RuleDef

log = logging.getLogger("pharos.rules")
NotifyFn = Callable[[str, list[Alert]], None]
DEFAULT_RESEND_DELAY_MS = 60_000
DEFAULT_OUTAGE_TOLERANCE_MS = 3_600_000
DEFAULT_FOR_GRACE_MS = 600_000


class RuleStorage(Protocol):
    """Where rules read (PromQL) and write (samples)."""

    def query(self, expr: Any, t_ms: int) -> list[Sample]:
        """Instant query: a vector (a scalar becomes one sample with no labels)."""
        ...

    def append(self, samples: list[Sample], t_ms: int) -> None:
        """Store samples at `t_ms`."""
        ...

    def last_sample(self, labels: Labels, mint_ms: int, maxt_ms: int) -> tuple[int, float] | None:
        """The newest sample of exactly `labels` in the window."""
        ...


@dataclass
class GroupOptions:
    """Evaluation settings shared by all groups."""

    interval_ms: int = 60_000  # the global evaluation_interval
    resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS
    outage_tolerance_ms: int = DEFAULT_OUTAGE_TOLERANCE_MS
    for_grace_ms: int = DEFAULT_FOR_GRACE_MS
    alert_ctx: AlertContext = field(default_factory=AlertContext)


_NAME_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_UNNAMED_SELECTOR = re.compile(r"(?:^|[^a-zA-Z0-9_:\s])\s*\{")


@dataclass(frozen=True)
class Reads:
    """Which metric names a rule may read from the TSDB: `names`, or anything (`any_name`)."""

    names: frozenset[str]
    any_name: bool

    @classmethod
    def of(cls, r: RuleDef, logql: bool) -> Reads:
        """From the expression text (over-inclusive: any identifier-like token counts), and
        templates that may call `query`."""
        texts = [*r.labels.values(), *r.annotations.values()]
        if any("query" in t for t in texts):
            return cls(frozenset(), any_name=True)
        if logql:
            return cls(frozenset(), any_name=False)
        any_name = "__name__" in r.expr or _UNNAMED_SELECTOR.search(r.expr) is not None
        return cls(frozenset(_NAME_TOKEN.findall(r.expr)), any_name)

    def reads_any(self, names: set[str]) -> bool:
        """Whether the rule may read one of `names`."""
        return self.any_name or not self.names.isdisjoint(names)


class Group:
    """One group of rules and its evaluation state."""

    def __init__(self, d: GroupDef, opts: GroupOptions, restored: bool = True) -> None:
        self.d = d
        self.name = d.name
        self.file = d.file
        self.interval_ms = round(d.interval_s * 1000) or opts.interval_ms
        self.opts = opts
        self.rules: list[Rule] = [
            RecordingRule(r, d.labels) if r.record else AlertingRule(r, opts.alert_ctx, d.labels, restored)
            for r in d.rules
        ]
        self.previous: list[set[Labels]] = [set() for _ in self.rules]
        self._reads = [Reads.of(r, d.is_logs) for r in d.rules]
        self._writes = [{r.record} if r.record else {"ALERTS", "ALERTS_FOR_STATE"} for r in d.rules]
        self._spans = {} if d.is_logs else _read_spans(d.rules)
        self.last_evaluation_ms = 0
        self.evaluation_s = 0.0
        self.should_restore = not restored

    @property
    def key(self) -> tuple[str, str]:
        """(file, name): a group's identity."""
        return self.file, self.name

    # -- evaluation ------------------------------------------------------------------------
    def eval(self, t_ms: int, storage: RuleStorage, notify: NotifyFn | None = None) -> None:
        """Evaluate every rule at `t_ms`, in order, writing results and staleness markers.

        Results are appended in as few TSDB appends as the rules allow: a rule's output is held
        back until the end of the group unless a later rule may read it (its expression names a
        pending metric, selects without a metric name, or a template calls `query`), in which
        case everything pending is appended first — later rules see earlier results, as with
        Prometheus's append per rule, without a head batch per rule."""
        started = time.perf_counter()
        qt = t_ms - round(self.d.query_offset_s * 1000)
        pending: list[Sample] = []
        pending_names: set[str] = set()
        with self._read_scope(storage):
            for i, rule in enumerate(self.rules):
                if pending and self._reads[i].reads_any(pending_names):
                    storage.append(pending, qt)
                    pending, pending_names = [], set()
                out = self._eval_rule(i, rule, qt, t_ms, storage, notify)
                if out:
                    pending += out
                    pending_names |= self._writes[i]
            if pending:
                storage.append(pending, qt)
        self.evaluation_s = time.perf_counter() - started
        self.last_evaluation_ms = t_ms

    def _read_scope(self, storage: RuleStorage) -> AbstractContextManager[None]:
        """Over the TSDB, one read per selector for the whole group (`TSDB.read_scope`)."""
        tsdb = getattr(storage, "tsdb", None)
        return tsdb.read_scope(self._spans) if isinstance(tsdb, TSDB) and self._spans else nullcontext()

    def _eval_rule(self, i: int, rule: Rule, qt: int, t_ms: int, storage: RuleStorage,
                   notify: NotifyFn | None) -> list[Sample]:
        """One rule: its samples and staleness markers to append (none on error)."""
        started = time.perf_counter()
        rule.status.last_evaluation_ms = t_ms
        try:
            samples = rule.eval(qt, storage.query, self.d.limit)
        except RuleEvalError as exc:
            rule.status.health, rule.status.last_error = Health.ERR, str(exc)
            rule.status.evaluation_s = time.perf_counter() - started
            log.warning("evaluating rule %s of group %s failed: %s", rule.name, self.name, exc)
            return []
        rule.status.health, rule.status.last_error = Health.OK, ""
        if isinstance(rule, AlertingRule) and notify is not None:
            due = rule.alerts_to_send(t_ms, self.opts.resend_delay_ms, self.interval_ms)
            if due:
                notify(rule.d.expr, due)
        current = {ls for ls, _ in samples}
        previous = self.previous[i]
        if previous:
            samples = samples + [(ls, STALE_NAN) for ls in previous - current]
        self.previous[i] = current
        rule.status.evaluation_s = time.perf_counter() - started
        return samples

    def mark_all_stale(self, t_ms: int, storage: RuleStorage) -> None:
        """Staleness markers for everything this group wrote (the group was removed)."""
        series = [(ls, STALE_NAN) for prev in self.previous for ls in prev]
        if series:
            storage.append(series, t_ms)
        self.previous = [set() for _ in self.rules]

    # -- restart -----------------------------------------------------------------------------
    def restore_for_state(self, now_ms: int, storage: RuleStorage) -> None:
        """Restore pending alerts' `activeAt` from ALERTS_FOR_STATE (after a restart)."""
        for rule in self.rules:
            if not isinstance(rule, AlertingRule):
                continue
            if rule.hold_ms >= self.opts.for_grace_ms:
                for a in rule.active.values():
                    found = storage.last_sample(
                        rule.for_state_labels(a), now_ms - self.opts.outage_tolerance_ms, now_ms
                    )
                    if found is not None and not is_stale_marker(found[1]):
                        rule.restore(a, found[0], found[1], now_ms, self.opts.for_grace_ms)
            rule.restored = True
        self.should_restore = False

    def copy_state(self, old: Group) -> None:
        """Carry alert states, staleness bookkeeping and health over a reload."""
        by_name: dict[tuple[str, str, int], int] = {}
        counts: dict[tuple[str, str], int] = {}
        for j, r in enumerate(old.rules):
            k = (r.kind, r.name)
            by_name[(*k, counts.get(k, 0))] = j
            counts[k] = counts.get(k, 0) + 1
        counts = {}
        for i, r in enumerate(self.rules):
            k = (r.kind, r.name)
            found = by_name.get((*k, counts.get(k, 0)))
            counts[k] = counts.get(k, 0) + 1
            if found is None:
                continue
            o = old.rules[found]
            self.previous[i] = old.previous[found]
            r.status = o.status
            if isinstance(r, AlertingRule) and isinstance(o, AlertingRule):
                r.active = o.active
                r.restored = o.restored
        self.last_evaluation_ms, self.evaluation_s = old.last_evaluation_ms, old.evaluation_s
        self.should_restore = old.should_restore

    # -- schedule ----------------------------------------------------------------------------
    def eval_timestamp(self, now_ms: int) -> int:
        """The evaluation slot at or before `now_ms` (Prometheus's EvalTimestamp)."""
        interval_ns = self.interval_ms * 1_000_000
        offset = group_hash(self.file, self.name) % interval_ns
        adj = now_ms * 1_000_000 - offset
        return (adj - adj % interval_ns + offset) // 1_000_000


def _read_spans(rules: list[RuleDef]) -> dict[tuple[Matcher, ...], int]:
    """The widest read of each selector over the rules' expressions."""
    spans: dict[tuple[Matcher, ...], int] = {}
    for r in rules:
        for key, span in read_spans(r.node).items():
            spans[key] = max(spans.get(key, 0), span)
    return spans


# ---------------------------------------------------------------------------------------------
# xxHash64 (Prometheus hashes label sets with it; used for the evaluation offset)
# ---------------------------------------------------------------------------------------------

_P1, _P2, _P3, _P4, _P5 = (
    11400714785074694791, 14029467366897019727, 1609587929392839161, 9650029242287828579,
    2870177450012600261,
)
_M = (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    return (_rotl((acc + lane * _P2) & _M, 31) * _P1) & _M


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of `data`."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed, (seed - _P1) & _M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], int.from_bytes(data[i + 8 * k:i + 8 * k + 8], "little"))
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & _M
        for k in range(4):
            h = ((h ^ _round(0, v[k])) * _P1 + _P4) & _M
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while i + 8 <= n:
        h = (_rotl(h ^ _round(0, int.from_bytes(data[i:i + 8], "little")), 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        h = (_rotl(h ^ (int.from_bytes(data[i:i + 4], "little") * _P1 & _M), 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        h = (_rotl(h ^ (data[i] * _P5 & _M), 11) * _P1) & _M
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    return h ^ (h >> 32)


def group_hash(file: str, name: str) -> int:
    """labels.Labels{file, name}.Hash() as Prometheus computes it."""
    sep = b"\xff"
    data = b"file" + sep + file.encode() + sep + b"name" + sep + name.encode() + sep
    return xxh64(data)
