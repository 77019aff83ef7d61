"""Protobuf message classes built at import time from compact field tables (no generated code):
Prometheus's remote-write/read messages (`prometheus.*`, v1) and client_model's MetricFamily
(`io.prometheus.client.*`, for delimited protobuf pushes). Field numbers follow the upstream
.proto files; fields pharos does not read (native histograms) are left out and skipped as unknown."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "double": F.TYPE_DOUBLE,
    "int64": F.TYPE_INT64,
    "uint64": F.TYPE_UINT64,
    "string": F.TYPE_STRING,
    "bool": F.TYPE_BOOL,
    "bytes": F.TYPE_BYTES,
    "int32": F.TYPE_INT32,
    "uint32": F.TYPE_UINT32,
}

# (field name, number, type, repeated); a type that is not a scalar names a message or an enum.
Field = tuple[str, int, str, bool]

PROMETHEUS: dict[str, list[Field]] = {
    "WriteRequest": [("timeseries", 1, "TimeSeries", True), ("metadata", 3, "MetricMetadata", True)],
    "MetricMetadata": [
        ("type", 1, "enum:MetricType", False),
        ("metric_family_name", 2, "string", False),
        ("help", 4, "string", False),
        ("unit", 5, "string", False),
    ],
    "Sample": [("value", 1, "double", False), ("timestamp", 2, "int64", False)],
    "Exemplar": [
        ("labels", 1, "Label", True),
        ("value", 2, "double", False),
        ("timestamp", 3, "int64", False),
    ],
    "TimeSeries": [
        ("labels", 1, "Label", True),
        ("samples", 2, "Sample", True),
        ("exemplars", 3, "Exemplar", True),
    ],
    "Label": [("name", 1, "string", False), ("value", 2, "string", False)],
    # The same wire bytes as WriteRequest, with labels and samples left encoded: the receiver
    # keys its series cache on the raw label messages and decodes all samples at once.
    "WriteRequestRaw": [("timeseries", 1, "TimeSeriesRaw", True)],
    "TimeSeriesRaw": [("labels", 1, "bytes", True), ("samples", 2, "bytes", True)],
    "LabelMatcher": [
        ("type", 1, "enum:MatchType", False),
        ("name", 2, "string", False),
        ("value", 3, "string", False),
    ],
    "ReadHints": [
        ("step_ms", 1, "int64", False),
        ("func", 2, "string", False),
        ("start_ms", 3, "int64", False),
        ("end_ms", 4, "int64", False),
        ("grouping", 5, "string", True),
        ("by", 6, "bool", False),
        ("range_ms", 7, "int64", False),
    ],
    "Query": [
        ("start_timestamp_ms", 1, "int64", False),
        ("end_timestamp_ms", 2, "int64", False),
        ("matchers", 3, "LabelMatcher", True),
        ("hints", 4, "ReadHints", False),
    ],
    "ReadRequest": [("queries", 1, "Query", True), ("accepted_response_types", 2, "enum:ResponseType", True)],
    "QueryResult": [("timeseries", 1, "TimeSeries", True)],
    "ReadResponse": [("results", 1, "QueryResult", True)],
}
PROMETHEUS_ENUMS = {
    "MetricType": [
        "UNKNOWN",
        "COUNTER",
        "GAUGE",
        "HISTOGRAM",
        "GAUGEHISTOGRAM",
        "SUMMARY",
        "INFO",
        "STATESET",
    ],
    "MatchType": ["EQ", "NEQ", "RE", "NRE"],
    "ResponseType": ["SAMPLES", "STREAMED_XOR_CHUNKS"],
}

CLIENT_MODEL: dict[str, list[Field]] = {
    "LabelPair": [("name", 1, "string", False), ("value", 2, "string", False)],
    "Gauge": [("value", 1, "double", False)],
    "Counter": [("value", 1, "double", False)],
    "Untyped": [("value", 1, "double", False)],
    "Quantile": [("quantile", 1, "double", False), ("value", 2, "double", False)],
    "Summary": [
        ("sample_count", 1, "uint64", False),
        ("sample_sum", 2, "double", False),
        ("quantile", 3, "Quantile", True),
    ],
    "Bucket": [
        ("cumulative_count", 1, "uint64", False),
        ("upper_bound", 2, "double", False),
        ("cumulative_count_float", 4, "double", False),
    ],
    "Histogram": [
        ("sample_count", 1, "uint64", False),
        ("sample_sum", 2, "double", False),
        ("bucket", 3, "Bucket", True),
        ("sample_count_float", 4, "double", False),
    ],
    "Metric": [
        ("label", 1, "LabelPair", True),
        ("gauge", 2, "Gauge", False),
        ("counter", 3, "Counter", False),
        ("summary", 4, "Summary", False),
        ("untyped", 5, "Untyped", False),
        ("timestamp_ms", 6, "int64", False),
        ("histogram", 7, "Histogram", False),
    ],
    "MetricFamily": [
        ("name", 1, "string", False),
        ("help", 2, "string", False),
        ("type", 3, "enum:MetricType", False),
        ("metric", 4, "Metric", True),
    ],
}
CLIENT_MODEL_ENUMS = {
    "MetricType": ["COUNTER", "GAUGE", "SUMMARY", "UNTYPED", "HISTOGRAM", "GAUGE_HISTOGRAM"]
}


def _field(package: str, spec: Field) -> descriptor_pb2.FieldDescriptorProto:
    name, number, kind, repeated = spec
    f = F(name=name, number=number, json_name=name)
    f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
    if kind in _SCALARS:
        f.type = _SCALARS[kind]
    elif kind.startswith("enum:"):
        f.type, f.type_name = F.TYPE_ENUM, f".{package}.{kind[5:]}"
    else:
        f.type, f.type_name = F.TYPE_MESSAGE, f".{package}.{kind}"
    return f


def build(
    package: str, messages: dict[str, list[Field]], enums: dict[str, list[str]], proto2: bool = False
) -> dict[str, Any]:
    """Message classes by name, from a private descriptor pool."""
    fd = descriptor_pb2.FileDescriptorProto(
        name=f"pharos/{package.replace('.', '/')}.proto",
        package=package,
        syntax="proto2" if proto2 else "proto3",
    )
    for ename, values in enums.items():
        e = fd.enum_type.add(name=ename)
        for i, v in enumerate(values):
            e.value.add(name=v, number=i)
    for mname, fields in messages.items():
        m = fd.message_type.add(name=mname)
        m.field.extend(_field(package, spec) for spec in fields)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{name}"))
        for name in messages
    }


_prom = build("prometheus", PROMETHEUS, PROMETHEUS_ENUMS)
WriteRequest = _prom["WriteRequest"]
WriteRequestRaw = _prom["WriteRequestRaw"]
ReadRequest = _prom["ReadRequest"]
ReadResponse = _prom["ReadResponse"]
TimeSeries = _prom["TimeSeries"]
Query = _prom["Query"]
LabelMatcher = _prom["LabelMatcher"]
Label = _prom["Label"]
Sample = _prom["Sample"]

_client = build("io.prometheus.client", CLIENT_MODEL, CLIENT_MODEL_ENUMS, proto2=True)
MetricFamily = _client["MetricFamily"]
