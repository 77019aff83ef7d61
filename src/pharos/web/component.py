"""The web component: static UI assets, SPA fallback for the UI's own routes, dashboards API."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from pharos.web.dashboards import DashboardError, DashboardStore

if TYPE_CHECKING:
    from pharos.config.loader import LoadedConfig
    from pharos.server.runtime import Runtime

STATIC_DIR = Path(__file__).parent / "static"
API = "/api/pharos/v1"
# The UI's client-side routes: each answers index.html (none collides with an API path).
UI_ROUTES = (
    "explore", "logs", "dashboards", "d", "alerts", "silences", "rules", "monitors", "targets",
    "service-discovery", "status", "tsdb-status",
)
NOT_BUILT = """<!doctype html><html><head><meta charset="utf-8"><title>pharos</title>
<style>body{font:15px system-ui,sans-serif;margin:4em auto;max-width:40em;color:#222}
code{background:#eee;padding:.1em .4em;border-radius:3px}</style></head><body>
<h1>pharos</h1><p>The web UI has not been built. Run <code>make ui</code> in the pharos
repository (it runs <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>), then reload.</p>
<p>The HTTP APIs work without it: <a href="/api/v1/targets">/api/v1/targets</a>,
<a href="/metrics">/metrics</a>, <a href="/docs">/docs</a>.</p></body></html>
"""


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _error(exc: DashboardError) -> Response:
    return _json({"status": "error", "error": str(exc)}, exc.status)


class WebComponent:
    """Serves the UI and the dashboards API."""

    name = "web"

    def __init__(self, data_dir: Path | None = None, static_dir: Path = STATIC_DIR) -> None:
        self._store = DashboardStore(data_dir) if data_dir is not None else None
        self.static_dir = static_dir

    @property
    def store(self) -> DashboardStore:
        if self._store is None:
            raise DashboardError(503, "pharos is starting: dashboards are not ready yet")
        return self._store

    # -- Component protocol ----------------------------------------------------------------------
    async def start(self, runtime: Runtime) -> None:
        if self._store is None:
            self._store = DashboardStore(runtime.opts.data_dir)

    async def apply_config(self, loaded: LoadedConfig) -> None:
        del loaded

    async def maintain(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def register(self, app: FastAPI) -> None:
        self._dashboard_routes(app)
        self._static_routes(app)

    # -- UI assets -------------------------------------------------------------------------------
    def _index(self) -> Response:
        index = self.static_dir / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=200, headers={"Cache-Control": "no-cache"})
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    def _static_routes(self, app: FastAPI) -> None:
        async def index(request: Request) -> Response:
            del request
            return self._index()

        app.add_api_route("/", index, methods=["GET", "HEAD"], include_in_schema=False)
        for route in UI_ROUTES:
            app.add_api_route(f"/{route}", index, methods=["GET", "HEAD"], include_in_schema=False)
            app.add_api_route(f"/{route}/{{rest:path}}", index, methods=["GET", "HEAD"], include_in_schema=False)

        @app.get("/graph", include_in_schema=False)
        async def graph(request: Request) -> Response:
            """Prometheus's UI path: open Explore with the same query string."""
            qs = request.url.query
            return RedirectResponse("/explore" + (f"?{qs}" if qs else ""), status_code=302)

        @app.api_route("/assets/{name:path}", methods=["GET", "HEAD"], include_in_schema=False)
        async def asset(name: str) -> Response:
            base = (self.static_dir / "assets").resolve()
            path = (base / name.replace("\x00", "\ufffd")).resolve()  # a NUL byte names no file
            if not path.is_relative_to(base) or not path.is_file():
                return Response("404 page not found\n", status_code=404, media_type="text/plain")
            media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            return FileResponse(
                path, media_type=media, headers={"Cache-Control": "public, max-age=31536000, immutable"}
            )

        @app.api_route("/favicon.svg", methods=["GET", "HEAD"], include_in_schema=False)
        async def favicon() -> Response:
            path = self.static_dir / "favicon.svg"
            if not path.is_file():
                return Response(status_code=404)
            return FileResponse(path, media_type="image/svg+xml")

    # -- dashboards API --------------------------------------------------------------------------
    def _dashboard_routes(self, app: FastAPI) -> None:
        component = self

        @app.get(f"{API}/dashboards", tags=["dashboards"])
        async def list_dashboards() -> Response:
            """All dashboards (built-in first): uid, title, tags, builtin, version."""
            try:
                return _json({"status": "success", "data": component.store.list()})
            except DashboardError as exc:
                return _error(exc)

        @app.get(f"{API}/dashboards/{{uid}}", tags=["dashboards"])
        async def get_dashboard(uid: str) -> Response:
            """One dashboard's JSON model (Grafana's dashboard JSON shape) and its meta."""
            try:
                stored = component.store.get(uid)
            except DashboardError as exc:
                return _error(exc)
            return _json({"status": "success", "data": {"dashboard": stored.dashboard, "meta": _meta(stored)}})

        async def _body(request: Request) -> tuple[dict[str, Any], bool]:
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError as exc:
                raise DashboardError(400, f"invalid JSON: {exc}") from None
            if not isinstance(body, dict):
                raise DashboardError(400, "body must be a JSON object")
            dash = body.get("dashboard", body)
            return dash, bool(body.get("overwrite", False))

        @app.post(f"{API}/dashboards", tags=["dashboards"])
        async def create_dashboard(request: Request) -> Response:
            """Create (or, with `overwrite: true`, replace) from `{"dashboard": {...}}`."""
            try:
                dash, overwrite = await _body(request)
                stored = component.store.save(dash, overwrite=overwrite)
            except DashboardError as exc:
                return _error(exc)
            return _json({"status": "success", "data": _meta(stored) | {"uid": stored.dashboard["uid"]}})

        @app.put(f"{API}/dashboards/{{uid}}", tags=["dashboards"])
        async def update_dashboard(uid: str, request: Request) -> Response:
            """Save a dashboard; a `version` older than the stored one is a conflict (409)."""
            try:
                dash, overwrite = await _body(request)
                stored = component.store.save(dash, overwrite=overwrite, uid=uid)
            except DashboardError as exc:
                return _error(exc)
            return _json({"status": "success", "data": _meta(stored) | {"uid": uid}})

        @app.delete(f"{API}/dashboards/{{uid}}", tags=["dashboards"])
        async def delete_dashboard(uid: str) -> Response:
            """Delete a dashboard (for a built-in: its saved override)."""
            try:
                component.store.delete(uid)
            except DashboardError as exc:
                return _error(exc)
            return _json({"status": "success"})


def _meta(stored: Any) -> dict[str, Any]:
    return {
        "builtin": stored.builtin,
        "overridden": stored.overridden,
        "version": stored.version,
        "updated": stored.updated,
    }
