"""The FastAPI app: lifecycle endpoints (/-/healthy, /-/ready, /-/reload), /metrics and the
Prometheus API, all on one port."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pharos import __version__
from pharos.metrics import api
from pharos.metrics.promql.http import query_router
from pharos.metrics.tsdb.db import TSDB
from pharos.monitors import promql as monitor_functions
from pharos.server.loopback import Loopback
from pharos.server.runtime import ReloadError, Runtime
from pharos.server.security import SecurityMiddleware
from pharos.server.selfmetrics import CONTENT_TYPE, SelfMetrics

log = logging.getLogger("pharos.server")
TEXT = "text/plain; charset=utf-8"


def create_app(runtime: Runtime) -> FastAPI:
    """An app serving `runtime`; its lifespan starts and stops the runtime."""

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title="pharos", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.runtime = runtime
    _lifecycle_routes(app, runtime)
    _metrics_route(app, SelfMetrics(runtime))
    api.register(app, runtime)
    for component in runtime.components:
        component.register(app)
    _mount_queries(app, runtime)
    app.add_exception_handler(HTTPException, _plain_http_error)  # type: ignore[arg-type]
    app.add_middleware(SecurityMiddleware, runtime=runtime)  # outermost: auth and body cap first
    runtime.loopback = Loopback(app)  # components' own requests, in-process (pharos.server.loopback)
    return app


def _lifecycle_routes(app: FastAPI, runtime: Runtime) -> None:
    @app.api_route("/-/healthy", methods=["GET", "HEAD"], response_class=PlainTextResponse)
    async def healthy() -> Response:
        """Always 200 while the process serves HTTP."""
        return PlainTextResponse("Pharos Server is Healthy.\n")

    @app.api_route("/-/ready", methods=["GET", "HEAD"], response_class=PlainTextResponse)
    async def ready() -> Response:
        """200 once the TSDB is open (WAL replayed) and scraping started, 503 before."""
        if runtime.is_ready():
            return PlainTextResponse("Pharos Server is Ready.\n")
        return PlainTextResponse("Service Unavailable", status_code=503)

    @app.api_route("/-/reload", methods=["GET", "POST", "PUT"], response_class=PlainTextResponse)
    async def reload(request: Request) -> Response:
        """Re-read the config files and apply them (POST or PUT, as Prometheus)."""
        if request.method == "GET":
            return PlainTextResponse("Only POST or PUT requests allowed", status_code=405)
        try:
            await runtime.reload()
        except ReloadError as exc:
            return PlainTextResponse(f"failed to reload config: {exc}\n", status_code=500)
        return Response(status_code=200)


def _mount_queries(app: FastAPI, runtime: Runtime) -> None:
    """Mount the PromQL endpoints (/api/v1/query, query_range, format_query, parse_query), with
    pharos' monitor functions (anomaly, forecast, outliers) registered in the engine."""
    monitor_functions.register()

    def querier() -> TSDB:
        if runtime.tsdb is None:
            raise RuntimeError("TSDB not ready")
        return runtime.tsdb

    app.include_router(query_router(querier))


def _metrics_route(app: FastAPI, metrics: SelfMetrics) -> None:
    @app.get("/metrics", response_class=PlainTextResponse)
    async def own_metrics() -> Response:
        """pharos' own metrics in the Prometheus text format."""
        return Response(await metrics.render(), media_type=CONTENT_TYPE)


async def _plain_http_error(request: Request, exc: HTTPException) -> Response:
    """404/405 as Go's router writes them (plain text), not FastAPI's JSON."""
    if exc.status_code == 404:
        return PlainTextResponse("404 page not found\n", status_code=404)
    text = exc.detail if isinstance(exc.detail, str) else "error"
    return PlainTextResponse(text, status_code=exc.status_code, headers=exc.headers)
