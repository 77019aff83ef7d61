"""Delimited protobuf pushes (`application/vnd.google.protobuf; proto=io.prometheus.client.
MetricFamily; encoding=delimited`): varint length-prefixed client_model MetricFamily messages."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from pharos.metrics.pushgateway.model import COUNTER, GAUGE, HISTOGRAM, SUMMARY, UNTYPED, Family, Metric
from pharos.metrics.pushgateway.parse import PushError
from pharos.metrics.remote.schema import MetricFamily

_TYPES = {0: COUNTER, 1: GAUGE, 2: SUMMARY, 3: UNTYPED, 4: HISTOGRAM}


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            break
    raise PushError("protobuf parsing error: bad length prefix")


def parse_delimited(body: bytes, now: float) -> dict[str, Family]:
    families: dict[str, Family] = {}
    pos = 0
    while pos < len(body):
        length, pos = _varint(body, pos)
        if pos + length > len(body):
            raise PushError("protobuf parsing error: unexpected end of message")
        try:
            mf = MetricFamily.FromString(body[pos : pos + length])
        except DecodeError as exc:
            raise PushError(f"protobuf parsing error: {exc}") from None
        pos += length
        kind = _TYPES.get(mf.type, UNTYPED)
        fam = Family(mf.name, kind, mf.help, [_metric(kind, m) for m in mf.metric], now)
        if fam.metrics:
            families[mf.name] = fam
    return families


def _metric(kind: str, m: object) -> Metric:
    out = Metric({lp.name: lp.value for lp in m.label}, has_timestamp=m.HasField("timestamp_ms"))  # type: ignore[attr-defined]
    if kind == HISTOGRAM:
        h = m.histogram  # type: ignore[attr-defined]
        out.buckets = {b.upper_bound: float(b.cumulative_count) for b in h.bucket}
        out.sum, out.count = h.sample_sum, float(h.sample_count)
    elif kind == SUMMARY:
        s = m.summary  # type: ignore[attr-defined]
        out.quantiles = {q.quantile: q.value for q in s.quantile}
        out.sum, out.count = s.sample_sum, float(s.sample_count)
    else:
        out.value = getattr(m, kind.lower()).value
    return out
