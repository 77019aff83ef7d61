"""Remote read (`POST /api/v1/read`): snappy `prometheus.ReadRequest` in, `ReadResponse` with
raw samples (the SAMPLES response type) out, so a Prometheus can query pharos' data."""

from __future__ import annotations

from google.protobuf.message import DecodeError

from pharos.metrics.model import Matcher, MatchOp
from pharos.metrics.remote.receiver import BadRequest
from pharos.metrics.remote.schema import Label, ReadRequest, ReadResponse, Sample
from pharos.metrics.tsdb.db import TSDB

_OPS = {0: MatchOp.EQUAL, 1: MatchOp.NOT_EQUAL, 2: MatchOp.REGEX, 3: MatchOp.NOT_REGEX}
SAMPLES = 0


def decode_read_request(data: bytes) -> ReadRequest:
    try:
        req = ReadRequest.FromString(data)
    except DecodeError as exc:
        raise BadRequest(f"cannot decode remote read request: {exc}") from None
    types = list(req.accepted_response_types)
    if types and SAMPLES not in types:
        raise BadRequest(f"server does not support any of the requested response types: {types}")
    return req


def to_matchers(query: object) -> list[Matcher]:
    matchers = []
    for m in query.matchers:  # type: ignore[attr-defined]
        op = _OPS.get(m.type)
        if op is None:
            raise BadRequest(f"invalid matcher type {m.type}")
        try:
            matchers.append(Matcher(m.name, op, m.value))
        except Exception as exc:
            raise BadRequest(f"invalid matcher {m.name}{op.value}{m.value!r}: {exc}") from None
    if not matchers:
        raise BadRequest("no matchers specified")
    return matchers


def answer(tsdb: TSDB, req: ReadRequest) -> ReadResponse:
    """One QueryResult per query, series with sorted labels and their samples in time order."""
    resp = ReadResponse()
    for query in req.queries:
        matchers = to_matchers(query)
        result = resp.results.add()
        for series in tsdb.select(matchers, query.start_timestamp_ms, query.end_timestamp_ms):
            ts = result.timeseries.add()
            ts.labels.extend(Label(name=n, value=v) for n, v in series.labels)
            ts.samples.extend(
                Sample(timestamp=t, value=v)
                for t, v in zip(series.timestamps.tolist(), series.values.tolist(), strict=True)
            )
    return resp
