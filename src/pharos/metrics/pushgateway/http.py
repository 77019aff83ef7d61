"""The Pushgateway's HTTP API on pharos' port: /metrics/job/... PUT/POST/DELETE, the status JSON
at /api/v1/metrics and the admin wipe at /api/v1/admin/wipe."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pharos.config.units import parse_duration
from pharos.metrics.pushgateway.parse import PushError, grouping_key, parse_body, sanitize
from pharos.metrics.pushgateway.service import PushgatewayService
from pharos.server.inflate import InflateError, inflate

TTL_HEADER = "X-Pharos-Group-TTL"


def register(app: FastAPI, runtime: Any) -> PushgatewayService:
    """Mount the Pushgateway routes; the returned service's start()/stop() run its background work."""
    service = PushgatewayService(runtime)
    app.state.pushgateway = service

    @app.api_route("/metrics/{path:path}", methods=["PUT", "POST", "DELETE"], include_in_schema=False)
    async def push(path: str, request: Request) -> Response:
        """Push (PUT replaces the group, POST same-named families) or DELETE a group."""
        return await _handle(service, path, request)

    @app.get("/api/v1/metrics")
    async def status() -> Response:
        """Every group with its families, in the Pushgateway's JSON shape."""
        service.expire()
        body = {"status": "success", "data": service.store.status()}
        return Response(orjson.dumps(body), media_type="application/json")

    @app.put("/api/v1/admin/wipe")
    async def wipe() -> Response:
        """Delete every group (202, as the Pushgateway's admin API)."""
        service.store.wipe()
        return Response(status_code=202)

    return service


async def _handle(service: PushgatewayService, path: str, request: Request) -> Response:
    try:
        key = grouping_key(path)
        ttl = _ttl(request, service)
    except LookupError:
        return PlainTextResponse("404 page not found\n", status_code=404)
    except PushError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=400)
    if request.method == "DELETE":
        service.store.delete(key)
        return Response(status_code=202)
    now = time.time()
    try:
        families = parse_body(await _body(request), request.headers.get("content-type"), now)
    except PushError as exc:
        return PlainTextResponse(f"{exc}\n", status_code=400)
    sanitize(families, key)
    try:
        service.store.push(key, families, replace=request.method == "PUT", now=now, ttl=ttl)
    except ValueError as exc:
        text = f"pushed metrics are invalid or inconsistent with existing metrics: {exc}\n"
        return PlainTextResponse(text, status_code=400)
    return Response(status_code=200)


async def _body(request: Request) -> bytes:
    body = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        try:
            return inflate(body, "gzip")
        except InflateError as exc:
            raise PushError(exc.explain("cannot decompress gzip body")) from None
    return body


def _ttl(request: Request, service: PushgatewayService) -> float | None:
    """A per-group TTL from `?ttl=` or the X-Pharos-Group-TTL header, else the configured default."""
    text = request.query_params.get("ttl") or request.headers.get(TTL_HEADER)
    if not text:
        return service.default_ttl()
    try:
        ttl = parse_duration(text)
    except ValueError as exc:
        raise PushError(f"invalid ttl: {exc}") from None
    return ttl or None
