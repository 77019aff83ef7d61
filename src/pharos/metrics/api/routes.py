"""Mount the Prometheus API on a Starlette/FastAPI app: readiness gate, CORS, the envelope."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from pharos.metrics.api import handlers
from pharos.metrics.api.context import ApiContext
from pharos.metrics.api.errors import ApiError, ErrorType
from pharos.metrics.api.export import ExportRequest, export_lines
from pharos.metrics.api.forms import read_form
from pharos.metrics.api.responses import error, success

log = logging.getLogger("pharos.api")
PREFIX = "/api/v1"
CORS_HEADERS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "Date",
}
GET, GET_POST = ["GET"], ["GET", "POST"]

Endpoint = Callable[[Request], Awaitable[Response]]

# path, handler, methods — as Prometheus 2.42 registers them.
_ROUTES: list[tuple[str, handlers.Handler, list[str]]] = [
    ("/series", handlers.series, GET_POST),
    ("/series", handlers.drop_series, ["DELETE"]),
    ("/labels", handlers.labels, GET_POST),
    ("/metadata", handlers.metadata, GET),
    ("/targets", handlers.targets, GET),
    ("/targets/metadata", handlers.targets_metadata, GET),
    ("/status/config", handlers.status_config, GET),
    ("/status/flags", handlers.status_flags, GET),
    ("/status/buildinfo", handlers.status_buildinfo, GET),
    ("/status/runtimeinfo", handlers.status_runtimeinfo, GET),
    ("/status/tsdb", handlers.status_tsdb, GET),
]


def add_cors(request: Request, response: Response) -> Response:
    """Prometheus's CORS headers, sent when the request carries an Origin."""
    if request.headers.get("origin"):
        response.headers.update(CORS_HEADERS)
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Vary"] = "Origin"
    return response


def not_ready() -> Response:
    """What Prometheus answers on its API before the TSDB is ready."""
    return PlainTextResponse("Service Unavailable", status_code=503)


def _wrap(ctx: ApiContext, handler: Callable[..., Awaitable[handlers.Result]]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        if not ctx.is_ready():
            return not_ready()
        try:
            form = await read_form(request)
            result = await handler(ctx, form, **request.path_params)
            response = success(result.data, result.warnings)
        except ApiError as exc:
            response = error(exc)
        except Exception as exc:  # an internal failure still answers in the envelope
            log.exception("API %s failed", request.url.path)
            response = error(ApiError(ErrorType.INTERNAL, str(exc) or type(exc).__name__))
        return add_cors(request, response)

    endpoint.__doc__ = handler.__doc__
    return endpoint


def _export_endpoint(ctx: ApiContext) -> Endpoint:
    async def export(request: Request) -> Response:
        """VictoriaMetrics-style /api/v1/export (JSON lines, one per series)."""
        if not ctx.is_ready() or ctx.tsdb is None:
            return not_ready()
        try:
            req = ExportRequest(await read_form(request))
        except ApiError as exc:
            return add_cors(request, error(exc))
        lines = await export_lines(ctx.tsdb, req)
        return add_cors(request, StreamingResponse(lines, media_type="application/stream+json"))

    return export


class OptionsMiddleware:
    """Answer OPTIONS on any /api/v1 path with 204 and CORS headers, as Prometheus does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "OPTIONS"
            and scope["path"].startswith(PREFIX + "/")
        ):
            response = add_cors(Request(scope), Response(status_code=204))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def register(app: FastAPI, ctx: ApiContext) -> None:
    """Add every /api/v1 endpoint of this module to `app`."""
    for path, handler, methods in _ROUTES:
        app.add_api_route(PREFIX + path, _wrap(ctx, handler), methods=methods, include_in_schema=True)
    app.add_api_route(
        PREFIX + "/label/{name}/values", _wrap(ctx, handlers.label_values), methods=GET, name="label_values"
    )
    app.add_api_route(PREFIX + "/export", _export_endpoint(ctx), methods=GET_POST)
    app.add_middleware(OptionsMiddleware)
