"""OTLP ExportMetricsServiceRequest -> samples, mapped as Prometheus's OTLP receiver does:
job = service.namespace/service.name, instance = service.instance.id, other resource attributes
on `target_info`; gauges and sums (cumulative only; monotonic ones get `_total`), histograms as
`_bucket{le}`/`_sum`/`_count`, summaries with `quantile`. Delta temporality and exponential
histograms are not stored (counted as dropped)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pharos.metrics.model import METRIC_NAME, STALE_NAN, Labels, make_labels
from pharos.metrics.otlp.names import label_name, metric_name
from pharos.metrics.pushgateway.gofloat import go_g

CUMULATIVE = 2
NO_RECORDED_VALUE = 1
IDENTIFYING = ("service.name", "service.namespace", "service.instance.id")


@dataclass
class Translation:
    samples: list[tuple[Labels, int, float]] = field(default_factory=list)
    dropped_points: int = 0
    reasons: list[str] = field(default_factory=list)


def any_value(v: Any) -> str:
    """An AnyValue as Prometheus renders it in a label."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return go_g(v.double_value)
    if kind == "bytes_value":
        return v.bytes_value.hex()
    if kind == "array_value":
        return orjson.dumps([any_value(x) for x in v.array_value.values]).decode()
    if kind == "kvlist_value":
        return orjson.dumps({kv.key: any_value(kv.value) for kv in v.kvlist_value.values}).decode()
    return ""


def attributes(kvs: Iterable[Any], skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Attributes as labels; keys that collide after escaping join their values with ';'."""
    out: dict[str, list[str]] = {}
    for kv in sorted(kvs, key=lambda kv: kv.key):
        if kv.key not in skip:
            out.setdefault(label_name(kv.key), []).append(any_value(kv.value))
    return {k: ";".join(v) for k, v in out.items()}


def resource_labels(resource: Any) -> dict[str, str]:
    attrs = {kv.key: any_value(kv.value) for kv in resource.attributes}
    labels: dict[str, str] = {}
    if "service.name" in attrs:
        ns = attrs.get("service.namespace")
        labels["job"] = f"{ns}/{attrs['service.name']}" if ns else attrs["service.name"]
    if "service.instance.id" in attrs:
        labels["instance"] = attrs["service.instance.id"]
    return labels


def translate(req: Any) -> Translation:
    out = Translation()
    for rm in req.resource_metrics:
        base = resource_labels(rm.resource)
        newest = -1
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                newest = max(newest, _metric(out, metric, base))
        info = attributes(rm.resource.attributes, IDENTIFYING)
        if info and newest >= 0:
            out.samples.append((make_labels({**info, **base, METRIC_NAME: "target_info"}), newest, 1.0))
    return out


def _metric(out: Translation, metric: Any, base: dict[str, str]) -> int:
    """Add the samples of one metric; returns its newest timestamp (ms) or -1."""
    kind = metric.WhichOneof("data")
    if kind == "gauge":
        return _numbers(out, metric_name(metric.name, metric.unit, "gauge"), metric.gauge.data_points, base)
    if kind == "sum":
        s = metric.sum
        if s.aggregation_temporality != CUMULATIVE:
            return _drop(out, len(s.data_points), f"{metric.name}: delta temporality is not supported")
        name = metric_name(metric.name, metric.unit, "counter" if s.is_monotonic else "gauge")
        return _numbers(out, name, s.data_points, base)
    if kind == "histogram":
        h = metric.histogram
        if h.aggregation_temporality != CUMULATIVE:
            return _drop(out, len(h.data_points), f"{metric.name}: delta temporality is not supported")
        return _histograms(out, metric_name(metric.name, metric.unit, "histogram"), h.data_points, base)
    if kind == "summary":
        return _summaries(
            out, metric_name(metric.name, metric.unit, "summary"), metric.summary.data_points, base
        )
    if kind == "exponential_histogram":
        n = len(metric.exponential_histogram.data_points)
        return _drop(out, n, f"{metric.name}: exponential histograms are not supported")
    return -1


def _drop(out: Translation, n: int, reason: str) -> int:
    out.dropped_points += n
    out.reasons.append(reason)
    return -1


def _point_labels(name: str, dp: Any, base: dict[str, str], extra: dict[str, str] | None = None) -> Labels:
    return make_labels({**attributes(dp.attributes), **base, **(extra or {}), METRIC_NAME: name})


def _value(dp: Any, v: float) -> float:
    return STALE_NAN if dp.flags & NO_RECORDED_VALUE else v


def _numbers(out: Translation, name: str, points: Iterable[Any], base: dict[str, str]) -> int:
    newest = -1
    for dp in points:
        t = dp.time_unix_nano // 1_000_000
        v = dp.as_double if dp.WhichOneof("value") == "as_double" else float(dp.as_int)
        out.samples.append((_point_labels(name, dp, base), t, _value(dp, v)))
        newest = max(newest, t)
    return newest


def _histograms(out: Translation, name: str, points: Iterable[Any], base: dict[str, str]) -> int:
    newest = -1
    for dp in points:
        t = dp.time_unix_nano // 1_000_000
        cumulative = 0
        for bound, count in zip([*dp.explicit_bounds, math.inf], dp.bucket_counts, strict=False):
            cumulative += count
            le = {"le": go_g(bound)}
            out.samples.append(
                (_point_labels(name + "_bucket", dp, base, le), t, _value(dp, float(cumulative)))
            )
        if len(dp.bucket_counts) <= len(dp.explicit_bounds):
            inf = {"le": "+Inf"}
            out.samples.append(
                (_point_labels(name + "_bucket", dp, base, inf), t, _value(dp, float(dp.count)))
            )
        if dp.HasField("sum"):
            out.samples.append((_point_labels(name + "_sum", dp, base), t, _value(dp, dp.sum)))
        out.samples.append((_point_labels(name + "_count", dp, base), t, _value(dp, float(dp.count))))
        newest = max(newest, t)
    return newest


def _summaries(out: Translation, name: str, points: Iterable[Any], base: dict[str, str]) -> int:
    newest = -1
    for dp in points:
        t = dp.time_unix_nano // 1_000_000
        for q in dp.quantile_values:
            labels = _point_labels(name, dp, base, {"quantile": go_g(q.quantile)})
            out.samples.append((labels, t, _value(dp, q.value)))
        out.samples.append((_point_labels(name + "_sum", dp, base), t, _value(dp, dp.sum)))
        out.samples.append((_point_labels(name + "_count", dp, base), t, _value(dp, float(dp.count))))
        newest = max(newest, t)
    return newest
