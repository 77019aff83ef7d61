"""The monitors HTTP API under /api/pharos/v1/monitors.

    GET    /api/pharos/v1/monitors                 all monitors with their state, group states, last transition
    POST   /api/pharos/v1/monitors                 create (JSON body: a monitor definition) -> 201
    GET    /api/pharos/v1/monitors/{name}          definition, state per group, mute, last error
    PUT    /api/pharos/v1/monitors/{name}          replace an API monitor's definition
    DELETE /api/pharos/v1/monitors/{name}          delete an API monitor -> 204
    POST   /api/pharos/v1/monitors/{name}/mute     {"end": RFC 3339 or unix seconds, optional}
    POST   /api/pharos/v1/monitors/{name}/unmute
    GET    /api/pharos/v1/monitors/{name}/history  state transitions and notifications, newest last

Monitors of pharos.yml are read-only here (403 on PUT/DELETE) but can be muted. Errors answer
`{"status": "error", "error": "..."}`; 503 until the component has started.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from pharos.metrics.api.responses import go_time
from pharos.monitors.manager import MonitorError, MonitorManager, MonitorRuntime
from pharos.monitors.model import MonitorConfig
from pharos.monitors.state import Transition

PREFIX = "/api/pharos/v1/monitors"
Provider = Callable[[], MonitorManager | None]


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"status": "error", "error": message}, status)


def _time(ms: int | None) -> str | None:
    return go_time(ms / 1000) if ms else None


def _num(v: float) -> float | None:
    return None if math.isnan(v) else v


def summary(rt: MonitorRuntime) -> dict[str, Any]:
    """A monitor as the list shows it."""
    overall = rt.overall()
    return {
        "name": rt.config.name, "type": rt.config.type, "query": rt.config.query, "source": rt.source,
        "state": overall.value if overall is not None else None, "muted": rt.muted,
        "mute_end": _time(rt.mute_end_ms), "last_evaluation": _time(rt.last_eval_ms), "error": rt.error,
        "group_states": [{"labels": g.labels, "state": g.state.value} for g in rt.groups.values()],
        "last_transition": _transition(rt.history[-1]) if rt.history else None,
    }


def _transition(t: Transition) -> dict[str, Any]:
    """A transition with its time as RFC 3339."""
    return {**t.to_json(), "at": _time(t.at_ms)}


def detail(rt: MonitorRuntime) -> dict[str, Any]:
    """A monitor with its definition and the state of every group."""
    groups = [{"labels": g.labels, "state": g.state.value, "since": _time(g.since_ms), "value": _num(g.value),
               "evaluated": g.evaluated, "renotify_count": g.renotify_count} for g in rt.groups.values()]
    return {**summary(rt), "definition": rt.config.model_dump(mode="json"), "groups": groups,
            "alerts": rt.book.to_json()}


def history(rt: MonitorRuntime) -> dict[str, Any]:
    """State transitions and notifications of a monitor."""
    transitions = [_transition(t) for t in rt.history]
    notes = [{"at": _time(n.at_ms), "kind": n.kind, "labels": n.labels, "state": n.state.value,
              "value": _num(n.value), "occurrence": n.occurrence, "message": n.message, **n.extra}
             for n in rt.notifications]
    return {"transitions": transitions, "notifications": notes}


def validation_message(exc: ValidationError) -> str:
    """pydantic errors as `key: message` lines."""
    lines = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        loc = [*err["loc"], *ctx.get("path", ())] if err["type"] == "pharos" else list(err["loc"])
        text = ctx.get("msg", err["msg"]) if err["type"] == "pharos" else err["msg"]
        key = ".".join(str(p) for p in loc)
        lines.append(f"{key}: {text}" if key else text)
    return "; ".join(lines)


def parse_end(value: Any) -> int | None:
    """A mute end: RFC 3339, unix seconds, or null -> ms."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(value * 1000)
    if isinstance(value, str):
        try:
            return round(float(value) * 1000)
        except ValueError:
            pass
        try:
            return round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            pass
    raise MonitorError(400, f"cannot parse {value!r} as a time")


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MonitorError(400, f"invalid JSON: {exc}") from None


async def _definition(request: Request) -> MonitorConfig:
    doc = await _body(request)
    try:
        return MonitorConfig.model_validate(doc)
    except ValidationError as exc:
        raise MonitorError(400, validation_message(exc)) from None


def monitors_router(provider: Provider) -> APIRouter:
    """The routes; `provider()` gives the manager (None while starting)."""
    r = APIRouter()

    def manager() -> MonitorManager:
        mgr = provider()
        if mgr is None:
            raise MonitorError(503, "monitors are starting")
        return mgr

    async def guarded(fn: Callable[[], Any]) -> Response:
        try:
            return await fn()  # type: ignore[no-any-return]
        except MonitorError as exc:
            return _error(exc.status, str(exc))

    @r.get(PREFIX)
    async def list_monitors() -> Response:
        """All monitors with their overall state."""
        async def run() -> Response:
            mgr = manager()
            with mgr.lock:
                return _json({"status": "success", "monitors": [summary(rt) for rt in mgr.monitors.values()]})
        return await guarded(run)

    @r.post(PREFIX)
    async def create(request: Request) -> Response:
        """Create an API monitor."""
        async def run() -> Response:
            mgr, cfg = manager(), await _definition(request)
            mgr.create(cfg)
            with mgr.lock:
                return _json(detail(mgr.get(cfg.name)), 201)
        return await guarded(run)

    @r.get(PREFIX + "/{name}")
    async def get(name: str) -> Response:
        """One monitor in detail."""
        async def run() -> Response:
            mgr = manager()
            with mgr.lock:
                return _json(detail(mgr.get(name)))
        return await guarded(run)

    @r.put(PREFIX + "/{name}")
    async def update(name: str, request: Request) -> Response:
        """Replace an API monitor's definition."""
        async def run() -> Response:
            mgr, cfg = manager(), await _definition(request)
            mgr.update(name, cfg)
            with mgr.lock:
                return _json(detail(mgr.get(name)))
        return await guarded(run)

    @r.delete(PREFIX + "/{name}")
    async def delete(name: str) -> Response:
        """Delete an API monitor."""
        async def run() -> Response:
            manager().delete(name)
            return Response(status_code=204)
        return await guarded(run)

    @r.post(PREFIX + "/{name}/mute")
    async def mute(name: str, request: Request) -> Response:
        """Mute until an optional end time."""
        async def run() -> Response:
            doc = await _body(request)
            end = parse_end(doc.get("end") if isinstance(doc, dict) else None)
            mgr = manager()
            mgr.mute(name, end)
            with mgr.lock:
                return _json(summary(mgr.get(name)))
        return await guarded(run)

    @r.post(PREFIX + "/{name}/unmute")
    async def unmute(name: str) -> Response:
        """Unmute."""
        async def run() -> Response:
            mgr = manager()
            mgr.unmute(name)
            with mgr.lock:
                return _json(summary(mgr.get(name)))
        return await guarded(run)

    @r.get(PREFIX + "/{name}/history")
    async def get_history(name: str) -> Response:
        """State history and notifications."""
        async def run() -> Response:
            mgr = manager()
            with mgr.lock:
                return _json(history(mgr.get(name)))
        return await guarded(run)

    return r
