"""`POST /api/v1/otlp/v1/metrics`: OTLP/HTTP metrics, protobuf or JSON, gzip allowed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import numpy as np
from fastapi import FastAPI
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pharos.metrics.otlp.translate import Translation, translate
from pharos.server.inflate import InflateError, inflate

log = logging.getLogger("pharos.otlp")
PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class OtlpError(ValueError):
    """A request answered with 400."""


def decode(body: bytes, content_type: str, encoding: str) -> tuple[Any, bool]:
    """(request, is_json)."""
    if encoding.lower() == "gzip":
        try:
            body = inflate(body, "gzip")
        except InflateError as exc:
            raise OtlpError(exc.explain("cannot gunzip the body")) from None
    media = content_type.split(";")[0].strip().lower()
    req = ExportMetricsServiceRequest()
    try:
        if media == JSON:
            json_format.Parse(body, req, ignore_unknown_fields=True)
            return req, True
        if media in (PROTOBUF, ""):
            req.ParseFromString(body)
            return req, False
    except (DecodeError, json_format.ParseError, ValueError) as exc:
        raise OtlpError(f"cannot decode the OTLP request: {exc}") from None
    raise OtlpError(f"unsupported content type {media!r}")


def store(tsdb: Any, result: Translation) -> int:
    """Append the translated samples (time-ordered per series); returns how many were stored."""
    if not result.samples:
        return 0
    refs = np.array([tsdb.get_ref(labels) for labels, _, _ in result.samples], dtype=np.uint32)
    ts = np.array([t for _, t, _ in result.samples], dtype=np.int64)
    vals = np.array([v for _, _, v in result.samples], dtype=np.float64)
    order = np.lexsort((ts, refs))
    return tsdb.append(refs[order], ts[order], vals[order]).appended


def register(app: FastAPI, runtime: Any) -> None:
    """Mount the OTLP metrics receiver."""

    @app.post("/api/v1/otlp/v1/metrics")
    async def otlp_metrics(request: Request) -> Response:
        """OTLP/HTTP export; the answer is an ExportMetricsServiceResponse in the request's format."""
        tsdb = runtime.tsdb
        if tsdb is None:
            return PlainTextResponse("TSDB not ready\n", status_code=503)
        try:
            req, is_json = decode(
                await request.body(),
                request.headers.get("content-type", PROTOBUF),
                request.headers.get("content-encoding", ""),
            )
        except OtlpError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        result = translate(req)
        await asyncio.to_thread(store, tsdb, result)
        resp = ExportMetricsServiceResponse()
        if result.dropped_points:
            resp.partial_success.rejected_data_points = result.dropped_points
            resp.partial_success.error_message = "; ".join(dict.fromkeys(result.reasons))
        if is_json:
            return Response(json_format.MessageToJson(resp, indent=None), media_type=JSON)
        return Response(resp.SerializeToString(), media_type=PROTOBUF)
