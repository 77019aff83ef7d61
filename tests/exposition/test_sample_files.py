"""The sample expositions shipped with Prometheus's textparse tests."""

from __future__ import annotations

import math

import pytest

from pharos.metrics.exposition import (
    ExpositionFormat,
    MetricMetadata,
    ParseCache,
    ParseResult,
    parse,
    parse_reference,
)
from pharos.metrics.model import make_labels
from shared_data import CONFORMANCE

ROOT = CONFORMANCE / "textparse"
TEXT, OM = ExpositionFormat.PROMETHEUS_TEXT, ExpositionFormat.OPENMETRICS

# file: (format, samples, metadata families, exemplars, NaN values)
EXPECTED = {
    "1histogram.om.txt": (OM, 42, 1, 0, 0),
    "alltypes.5mfs.om.txt": (OM, 53, 5, 6, 0),
    "alltypes.237mfs.prom.txt": (TEXT, 1857, 237, 0, 12),
    "alltypes.237mfs.nometa.prom.txt": (TEXT, 1857, 0, 0, 12),
    "v2.42.0/promtestdata.txt": (TEXT, 410, 59, 0, 147),
    "v2.42.0/promtestdata.nometa.txt": (TEXT, 410, 0, 0, 147),
}


def _load(name: str) -> ParseResult:
    return parse((ROOT / name).read_bytes(), EXPECTED[name][0])


def _rows(result: ParseResult) -> list[tuple[object, ...]]:
    return [(s.key, s.labels, repr(s.value), s.timestamp_ms, s.exemplar) for s in result.samples]


def test_every_file_is_covered() -> None:
    found = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.txt")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_counts(name: str) -> None:
    _, samples, families, exemplars, nans = EXPECTED[name]
    result = _load(name)
    assert len(result.samples) == samples
    assert len({s.labels for s in result.samples}) == samples
    assert len(result.metadata) == families
    assert sum(s.exemplar is not None for s in result.samples) == exemplars
    assert sum(math.isnan(s.value) for s in result.samples) == nans


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fast_cached_and_reference_agree(name: str) -> None:
    body = (ROOT / name).read_bytes()
    fmt = EXPECTED[name][0]
    cache = ParseCache()
    cold = parse(body, fmt, cache)
    warm = parse(body, fmt, cache)
    slow = parse_reference(body, fmt)
    assert _rows(cold) == _rows(warm) == _rows(slow)
    assert cold.metadata == warm.metadata == slow.metadata


def test_histogram_file_values() -> None:
    result = _load("1histogram.om.txt")
    first = result.samples[0]
    assert first.key == ('golang_manual_histogram_seconds_bucket{address="0.0.0.0",generation="20",'
                         'port="5001",le="0.005"}')
    assert first.labels == make_labels({"__name__": "golang_manual_histogram_seconds_bucket",
                                        "address": "0.0.0.0", "generation": "20", "port": "5001",
                                        "le": "0.005"})
    assert first.value == 0.0 and first.timestamp_ms is None
    assert result.samples[-1].labels[0] == ("__name__", "golang_manual_histogram_seconds_count")
    assert result.samples[-1].value == 1.0
    assert result.metadata == {"golang_manual_histogram_seconds": MetricMetadata(
        "histogram", "This is a histogram with manually selected parameters", "")}


def test_openmetrics_exemplars_and_created() -> None:
    result = _load("alltypes.5mfs.om.txt")
    by_key = {s.key: s for s in result.samples}
    bucket = by_key['rpc_durations_histogram_seconds_bucket{le="-0.0002899999999999998"}']
    assert bucket.value == 3.0
    assert bucket.exemplar is not None
    assert bucket.exemplar.labels == (("dummyID", "17783"),)
    assert bucket.exemplar.value == -0.0003825067330956884
    assert bucket.exemplar.timestamp_ms == 1726839814223
    created = by_key['promhttp_metric_handler_errors_created{cause="encoding"}']
    assert created.value == 1.726839813016397e09  # Prometheus 2.42 keeps _created as a sample
    assert by_key['go_build_info{checksum="",path="",version=""}'].labels == (("__name__", "go_build_info"),)
    assert result.metadata["promhttp_metric_handler_errors"].type == "counter"
    assert sum(s.labels[0][1].endswith("_created") for s in result.samples) == 9


def test_text_file_values() -> None:
    result = _load("v2.42.0/promtestdata.txt")
    by_key = {s.key: s for s in result.samples}
    assert by_key['go_gc_duration_seconds{quantile="0"}'].value == 4.9351e-05
    assert by_key["go_goroutines"].value == 33
    assert math.isnan(by_key['http_request_duration_microseconds{handler="alerts",quantile="0.5"}'].value)
    assert result.metadata["go_gc_duration_seconds"] == MetricMetadata(
        "summary", "A summary of the GC invocation durations.", "")
    assert result.samples[-1].key == "prometheus_treecache_zookeeper_failures_total"


def test_alltypes_text_file() -> None:
    result = _load("alltypes.237mfs.prom.txt")
    assert result.samples[0].key == "go_gc_cycles_automatic_gc_cycles_total"
    assert result.samples[0].value == 190932.0
    assert result.metadata["go_gc_cycles_automatic_gc_cycles_total"].type == "counter"
    types = {m.type for m in result.metadata.values()}
    assert types <= {"counter", "gauge", "histogram", "summary", "unknown"}
