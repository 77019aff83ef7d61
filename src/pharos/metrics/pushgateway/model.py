"""Pushed metric families as the Pushgateway keeps them (client_model shapes: one Metric per label
set, histograms and summaries whole), and how they turn into samples, status JSON and the
protobuf text form used in the Pushgateway's error messages."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from pharos.metrics.api.responses import go_time
from pharos.metrics.exposition.gofmt import go_quote
from pharos.metrics.pushgateway.gofloat import go_g

COUNTER, GAUGE, UNTYPED, HISTOGRAM, SUMMARY = "COUNTER", "GAUGE", "UNTYPED", "HISTOGRAM", "SUMMARY"
PUSH_TIME = "push_time_seconds"
PUSH_FAILURE_TIME = "push_failure_time_seconds"
PUSH_TIME_HELP = "Last Unix time when changing this group in the Pushgateway succeeded."
PUSH_FAILURE_HELP = "Last Unix time when changing this group in the Pushgateway failed."

Sample = tuple[str, dict[str, str], float]  # (metric name, labels without __name__, value)


@dataclass
class Metric:
    """One label set of a family: a plain value, or a histogram/summary with its parts."""

    labels: dict[str, str]
    value: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)  # upper bound -> cumulative count
    quantiles: dict[float, float] = field(default_factory=dict)  # quantile -> value
    sum: float = 0.0
    count: float = 0.0
    has_timestamp: bool = False

    def identity(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))


@dataclass
class Family:
    name: str
    type: str
    help: str
    metrics: list[Metric]
    time: float = 0.0  # when the push that wrote it happened (Unix seconds)

    def samples(self) -> list[Sample]:
        """The series a scrape of the Pushgateway exposes for this family."""
        if self.type == HISTOGRAM:
            return [s for m in self.metrics for s in _histogram_samples(self.name, m)]
        if self.type == SUMMARY:
            return [s for m in self.metrics for s in _summary_samples(self.name, m)]
        return [(self.name, m.labels, m.value) for m in self.metrics]

    def status(self) -> dict[str, Any]:
        """The family as the Pushgateway's /api/v1/metrics writes it."""
        out: dict[str, Any] = {"time_stamp": go_time(self.time), "type": self.type}
        if self.help:
            out["help"] = self.help
        out["metrics"] = [_metric_status(self.type, m) for m in self.metrics]
        return out


def _histogram_samples(name: str, m: Metric) -> list[Sample]:
    out: list[Sample] = [
        (name + "_bucket", {**m.labels, "le": go_g(le)}, count) for le, count in sorted(m.buckets.items())
    ]
    if math.inf not in m.buckets:
        out.append((name + "_bucket", {**m.labels, "le": "+Inf"}, m.count))
    out.append((name + "_sum", m.labels, m.sum))
    out.append((name + "_count", m.labels, m.count))
    return out


def _summary_samples(name: str, m: Metric) -> list[Sample]:
    out: list[Sample] = [(name, {**m.labels, "quantile": go_g(q)}, v) for q, v in sorted(m.quantiles.items())]
    out.append((name + "_sum", m.labels, m.sum))
    out.append((name + "_count", m.labels, m.count))
    return out


def _metric_status(kind: str, m: Metric) -> dict[str, Any]:
    out: dict[str, Any] = {"labels": dict(sorted(m.labels.items()))}
    if kind == HISTOGRAM:
        out["buckets"] = {go_g(le): go_g(c) for le, c in sorted(m.buckets.items())}
    elif kind == SUMMARY:
        out["quantiles"] = {go_g(q): go_g(v) for q, v in sorted(m.quantiles.items())}
    else:
        out["value"] = go_g(m.value)
        return out
    out["count"] = go_g(m.count)
    out["sum"] = go_g(m.sum)
    return out


def proto_text(kind: str, m: Metric) -> str:
    """The metric in protobuf's compact text form, as Go's `%s` of a dto.Metric prints it."""
    parts = [f"label:<name:{go_quote(n)} value:{go_quote(v)} > " for n, v in sorted(m.labels.items())]
    if kind in (COUNTER, GAUGE, UNTYPED):
        parts.append(f"{kind.lower()}:<value:{_pb(m.value)} > ")
    elif kind == SUMMARY:
        qs = "".join(f"quantile:<quantile:{_pb(q)} value:{_pb(v)} > " for q, v in sorted(m.quantiles.items()))
        parts.append(f"summary:<sample_count:{_pb(m.count)} sample_sum:{_pb(m.sum)} {qs}> ")
    else:
        bs = "".join(
            f"bucket:<cumulative_count:{_pb(c)} upper_bound:{_pb(le)} > "
            for le, c in sorted(m.buckets.items())
        )
        parts.append(f"histogram:<sample_count:{_pb(m.count)} sample_sum:{_pb(m.sum)} {bs}> ")
    return "".join(parts)


def _pb(value: float) -> str:
    """A number in protobuf text form (integers for counts, 'inf' for infinity)."""
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if math.isnan(value):
        return "nan"
    return go_g(value)


# -- persistence -------------------------------------------------------------------------------
def family_to_json(f: Family) -> dict[str, Any]:
    return {
        "name": f.name,
        "type": f.type,
        "help": f.help,
        "time": f.time,
        "metrics": [
            {
                "labels": m.labels,
                "value": _num(m.value),
                "buckets": [[_num(k), _num(v)] for k, v in m.buckets.items()],
                "quantiles": [[_num(k), _num(v)] for k, v in m.quantiles.items()],
                "sum": _num(m.sum),
                "count": _num(m.count),
            }
            for m in f.metrics
        ],
    }


def family_from_json(d: dict[str, Any]) -> Family:
    metrics = [
        Metric(
            labels=dict(m["labels"]),
            value=_float(m["value"]),
            buckets={_float(k): _float(v) for k, v in m["buckets"]},
            quantiles={_float(k): _float(v) for k, v in m["quantiles"]},
            sum=_float(m["sum"]),
            count=_float(m["count"]),
        )
        for m in d["metrics"]
    ]
    return Family(d["name"], d["type"], d["help"], metrics, float(d["time"]))


def _num(v: float) -> float | str:
    """JSON has no NaN/Inf: those are stored as Go-formatted strings."""
    return v if math.isfinite(v) else go_g(v)


def _float(v: float | str) -> float:
    if isinstance(v, str):
        return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}[v]
    return float(v)
