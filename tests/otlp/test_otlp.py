"""OTLP metrics from the opentelemetry-sdk (protobuf) and as JSON land as the series Prometheus
makes of them: suffixed names, job/instance from the resource, target_info."""

from __future__ import annotations

import gzip
from types import SimpleNamespace

import httpx
from google.protobuf import json_format
from live_server import LiveServer, read_all
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Observation
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from pharos.metrics.otlp.names import label_name, metric_name

RESOURCE = {
    "service.name": "checkout",
    "service.namespace": "shop",
    "service.instance.id": "i-1",
    "host.name": "h1",
}
BASE = (("instance", "i-1"), ("job", "shop/checkout"))


def export_with_sdk(url: str) -> None:
    exporter = OTLPMetricExporter(endpoint=url + "/api/v1/otlp/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(resource=Resource.create(RESOURCE), metric_readers=[reader])
    meter = provider.get_meter("test-meter", "1.0")
    requests = meter.create_counter("http.server.requests", unit="{request}", description="Requests.")
    requests.add(3, {"http.method": "GET", "http.status_code": 200})
    requests.add(1, {"http.method": "POST", "http.status_code": 500})
    meter.create_up_down_counter("queue.depth", unit="{item}").add(-2)
    duration = meter.create_histogram("http.server.duration", unit="ms")
    for v in (3, 30, 300):
        duration.record(v, {"route": "/a"})
    meter.create_observable_gauge(
        "cpu.utilization", callbacks=[lambda _: [Observation(0.25, {"cpu": "0"})]], unit="1"
    )
    provider.force_flush()
    provider.shutdown()


def labels_of(got: dict) -> dict[tuple, float]:
    return {k: v[-1][1] for k, v in got.items()}


def test_sdk_export_lands_as_prometheus_series(otlp_server: tuple[LiveServer, SimpleNamespace]) -> None:
    server, runtime = otlp_server
    export_with_sdk(server.url)
    got = labels_of(read_all(runtime.tsdb))
    assert (
        got[
            (
                ("__name__", "http_server_requests_total"),
                ("http_method", "GET"),
                ("http_status_code", "200"),
                *BASE,
            )
        ]
        == 3.0
    )
    assert got[(("__name__", "queue_depth"), *BASE)] == -2.0  # non-monotonic sum: a gauge, no _total
    assert got[(("__name__", "cpu_utilization_ratio"), ("cpu", "0"), *BASE)] == 0.25
    hist = {k: v for k, v in got.items() if k[0][1].startswith("http_server_duration_milliseconds")}
    buckets = {dict(k)["le"]: v for k, v in hist.items() if k[0][1].endswith("_bucket")}
    assert buckets["5"] == 1.0 and buckets["50"] == 2.0 and buckets["500"] == 3.0 and buckets["+Inf"] == 3.0
    assert (
        got[(("__name__", "http_server_duration_milliseconds_sum"), *BASE[:1], BASE[1], ("route", "/a"))]
        == 333.0
    )
    assert (
        got[(("__name__", "http_server_duration_milliseconds_count"), *BASE[:1], BASE[1], ("route", "/a"))]
        == 3.0
    )
    info = [dict(k) for k in got if dict(k)["__name__"] == "target_info"]
    assert len(info) == 1 and info[0]["host_name"] == "h1" and info[0]["job"] == "shop/checkout"
    assert info[0]["telemetry_sdk_language"] == "python" and "service_name" not in info[0]


def test_json_and_gzip_and_bad_input(otlp_server: tuple[LiveServer, SimpleNamespace]) -> None:
    server, runtime = otlp_server
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.add(key="service.name", value={"string_value": "svc"})
    m = rm.scope_metrics.add().metrics.add(name="jobs.done", unit="1")
    m.sum.aggregation_temporality = 2
    m.sum.is_monotonic = True
    dp = m.sum.data_points.add(time_unix_nano=1_800_000_000_123_456_789, as_int=7)
    dp.attributes.add(key="2xx", value={"int_value": 5})
    d = rm.scope_metrics[0].metrics.add(name="delta.sum")
    d.sum.aggregation_temporality = 1
    d.sum.data_points.add(time_unix_nano=1_800_000_000_000_000_000, as_double=1)
    body = json_format.MessageToJson(req).encode()
    r = httpx.post(
        server.url + "/api/v1/otlp/v1/metrics",
        content=gzip.compress(body),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "partialSuccess": {
            "rejectedDataPoints": "1",
            "errorMessage": "delta.sum: delta temporality is not supported",
        }
    }
    assert read_all(runtime.tsdb) == {
        (("__name__", "jobs_done_total"), ("job", "svc"), ("key_2xx", "5")): [(1_800_000_000_123, 7.0)]
    }
    r = httpx.post(
        server.url + "/api/v1/otlp/v1/metrics",
        content=req.SerializeToString(),
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 200
    assert ExportMetricsServiceResponse.FromString(r.content).partial_success.rejected_data_points == 1
    r = httpx.post(
        server.url + "/api/v1/otlp/v1/metrics",
        content=b"\xff\xff",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert r.status_code == 400 and r.text.startswith("cannot decode the OTLP request")


def test_names() -> None:
    assert metric_name("http.server.duration", "s", "histogram") == "http_server_duration_seconds"
    assert metric_name("system.network.io", "By", "counter") == "system_network_io_bytes_total"
    assert metric_name("requests_total", "{request}", "counter") == "requests_total"
    assert metric_name("throughput", "By/s", "gauge") == "throughput_bytes_per_second"
    assert metric_name("seconds.used", "s", "gauge") == "seconds_used"
    assert metric_name("5xx", "", "gauge") == "_5xx"
    assert [label_name(n) for n in ("http.method", "_x", "__y", "9z")] == [
        "http_method",
        "key_x",
        "__y",
        "key_9z",
    ]
