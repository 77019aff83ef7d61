"""Alertmanager API v2 on the shared port: alerts, alert groups, silences, status, receivers.

JSON shapes are Alertmanager 0.25's (so `amtool` and Prometheus's notifier work unchanged);
timestamps are go-openapi date-times (milliseconds, UTC).
"""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from pharos.alertmanager.core import Alertmanager
from pharos.alertmanager.matchers import Matcher, MatcherError, matches_filter, parse_matchers
from pharos.alertmanager.model import ZERO_TIME, Alert, api_time, fp_hex, parse_time
from pharos.alertmanager.silences import Silence, SilenceError, SilenceNotFound, api_matcher

Getter = Callable[[], Alertmanager | None]
Handler = Callable[[Alertmanager, Request], Awaitable[Response]]
JSON = "application/json"
AM_API_VERSION = "0.25.0"
_STATES = ("active", "silenced", "inhibited")


class BadRequest(Exception):
    """A request the API refuses with 400 and a JSON string message."""


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def _error(message: str, status: int) -> Response:
    return _json(message, status)


def _bool_param(request: Request, name: str, default: bool = True) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value.lower() not in ("true", "false", "1", "0"):
        raise BadRequest(f'{name} in query must be of type boolean: "{value}"')
    return value.lower() in ("true", "1")


async def _body(request: Request, parse_error: str, want: type, type_error: str) -> Any:
    """The JSON body; BadRequest with `parse_error` and the reason, or `type_error` if not a `want`."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"{parse_error}, because {exc}") from None
    if not isinstance(body, want):
        raise BadRequest(type_error)
    return body


def _filters(request: Request) -> list[Matcher]:
    out: list[Matcher] = []
    for text in request.query_params.getlist("filter"):
        try:
            out += parse_matchers(text)
        except MatcherError as exc:
            raise BadRequest(str(exc)) from None
    return out


def _receiver_filter(request: Request) -> Matcher | None:
    text = request.query_params.get("receiver")
    if not text:
        return None
    try:
        return Matcher.make("receiver", "=~", text)
    except MatcherError as exc:
        raise BadRequest(f"failed to parse receiver param: {exc}") from None


# ---------------------------------------------------------------------------------------------
# JSON shapes
# ---------------------------------------------------------------------------------------------


def gettable_alert(am: Alertmanager, alert: Alert) -> dict[str, Any]:
    """API v2 gettableAlert."""
    status = am.status(alert)
    return {
        "annotations": alert.annotations,
        "endsAt": api_time(alert.ends_at),
        "fingerprint": fp_hex(alert.fingerprint),
        "receivers": [{"name": r} for r in am.receivers_of(alert)],
        "startsAt": api_time(alert.starts_at),
        "status": {
            "inhibitedBy": status.inhibited_by,
            "silencedBy": status.silenced_by,
            "state": status.state,
        },
        "updatedAt": api_time(alert.updated_at),
        "generatorURL": alert.generator_url,
        "labels": alert.labels,
    }


def gettable_silence(s: Silence, now: datetime) -> dict[str, Any]:
    """API v2 gettableSilence."""
    return {
        "id": s.id,
        "status": {"state": s.state(now)},
        "updatedAt": api_time(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": api_time(s.ends_at),
        "matchers": [
            {"isEqual": m.is_equal, "isRegex": m.is_regex, "name": m.name, "value": m.value}
            for m in s.matchers
        ],
        "startsAt": api_time(s.starts_at),
    }


def _alert_from_json(raw: Any) -> Alert:
    if not isinstance(raw, dict) or not isinstance(raw.get("labels"), dict):
        raise BadRequest("labels in body is required")

    def times(key: str) -> datetime:
        value = raw.get(key)
        if not value:
            return ZERO_TIME
        try:
            return parse_time(str(value))
        except ValueError as exc:
            raise BadRequest(f"{key} in body must be of type date-time: {exc}") from None

    return Alert(
        labels={str(k): str(v) for k, v in raw["labels"].items()},
        annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
        starts_at=times("startsAt"),
        ends_at=times("endsAt"),
        generator_url=str(raw.get("generatorURL") or ""),
    )


@dataclass(frozen=True, slots=True)
class _AlertFilter:
    """A request's `filter`, `receiver`, `active`, `silenced` and `inhibited` parameters."""

    matchers: list[Matcher]
    receiver: Matcher | None
    shown: dict[str, bool]  # per state (active, silenced, inhibited): list alerts in it

    @classmethod
    def of(cls, request: Request) -> _AlertFilter:
        """Parse the parameters (400 on a bad one, whether or not any alert is listed)."""
        matchers, receiver = _filters(request), _receiver_filter(request)
        return cls(matchers, receiver, {state: _bool_param(request, state) for state in _STATES})

    def selects(self, am: Alertmanager, alert: Alert) -> bool:
        """Whether `alert` is listed."""
        if self.receiver is not None and not any(self.receiver.matches(r) for r in am.receivers_of(alert)):
            return False
        if not matches_filter(self.matchers, alert.labels):
            return False
        status = am.status(alert)
        in_state = (status.state == "active", bool(status.silenced_by), bool(status.inhibited_by))
        return all(self.shown[state] for state, on in zip(_STATES, in_state, strict=True) if on)


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


def router(get_am: Getter, version: str) -> APIRouter:
    """The /api/v2 routes; 503 until the alertmanager has started."""
    r = APIRouter(prefix="/api/v2")

    def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            am = get_am()
            if am is None:
                return _error("alertmanager is not ready", 503)
            try:
                return await handler(am, request)
            except BadRequest as exc:
                return _error(str(exc), 400)

        return serve

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/alerts", _get_alerts),
        ("POST", "/alerts", _post_alerts),
        ("GET", "/alerts/groups", _get_groups),
        ("GET", "/silences", _get_silences),
        ("POST", "/silences", _post_silences),
        ("GET", "/silence/{sid}", _get_silence),
        ("DELETE", "/silence/{sid}", _delete_silence),
        ("GET", "/status", partial(_status, version=version)),
        ("GET", "/receivers", _receivers),
    ]
    for method, path, handler in routes:
        r.add_api_route(path, endpoint(handler), methods=[method], name=f"{method.lower()} {path}")
    return r


async def _get_alerts(am: Alertmanager, request: Request) -> Response:
    selected = _AlertFilter.of(request)
    out = [gettable_alert(am, a) for a in am.active_alerts() if selected.selects(am, a)]
    return _json(out)


async def _post_alerts(am: Alertmanager, request: Request) -> Response:
    body = await _body(
        request, 'parsing alerts body from "" failed', list, "alerts in body must be of type array"
    )
    errors = am.put_alerts([_alert_from_json(item) for item in body])
    if errors:
        return _error("; ".join(errors), 400)
    return Response(status_code=200, media_type=JSON)


async def _get_groups(am: Alertmanager, request: Request) -> Response:
    selected = _AlertFilter.of(request)
    now = am.clock.now()
    out: list[dict[str, Any]] = []
    for group in am.dispatcher.groups.values():
        if selected.receiver is not None and not selected.receiver.matches(group.route.receiver):
            continue
        alerts = [
            gettable_alert(am, a)
            for a in group.snapshot()
            if not a.resolved_at(now) and selected.selects(am, a)
        ]
        if alerts:
            out.append({"alerts": alerts, "labels": group.labels, "receiver": {"name": group.route.receiver}})
    out.sort(key=lambda g: (sorted(g["labels"].items()), g["receiver"]["name"]))
    return _json(out)


def _silence_order(s: Silence, now: datetime) -> tuple[int, float]:
    state = s.state(now)
    if state == "active":
        return 0, s.ends_at.timestamp()
    if state == "pending":
        return 1, s.starts_at.timestamp()
    return 2, -s.ends_at.timestamp()


async def _get_silences(am: Alertmanager, request: Request) -> Response:
    now = am.clock.now()
    found = sorted(am.silences_matching(_filters(request)), key=lambda s: _silence_order(s, now))
    return _json([gettable_silence(s, now) for s in found])


async def _post_silences(am: Alertmanager, request: Request) -> Response:
    body = await _body(request, "parsing silence body failed", dict, "silence in body must be an object")
    try:
        silence = _silence_from_json(body)
    except SilenceError as exc:
        raise BadRequest(str(exc)) from None
    if silence.starts_at >= silence.ends_at:
        raise BadRequest("Failed to create silence: start time must be before end time")
    if silence.ends_at < am.clock.now():
        raise BadRequest("Failed to create silence: end time can't be in the past")
    try:
        sid = am.silences.set(silence)
    except SilenceNotFound:
        return _error("silence not found", 404)
    except SilenceError as exc:
        raise BadRequest(str(exc)) from None
    return _json({"silenceID": sid})


def _silence_from_json(body: dict[str, Any]) -> Silence:
    for key in ("matchers", "startsAt", "endsAt"):
        if key not in body:
            raise SilenceError(f"{key} in body is required")
    if not isinstance(body["matchers"], list):
        raise SilenceError("matchers in body must be of type array")
    try:
        starts, ends = parse_time(str(body["startsAt"])), parse_time(str(body["endsAt"]))
    except ValueError as exc:
        raise SilenceError(f"startsAt/endsAt in body must be of type date-time: {exc}") from None
    return Silence(
        id=str(body.get("id") or ""),
        matchers=[api_matcher(m) for m in body["matchers"]],
        starts_at=starts,
        ends_at=ends,
        created_by=str(body.get("createdBy") or ""),
        comment=str(body.get("comment") or ""),
    )


async def _get_silence(am: Alertmanager, request: Request) -> Response:
    sid = request.path_params["sid"]
    try:
        return _json(gettable_silence(am.silences.get(sid), am.clock.now()))
    except SilenceNotFound:
        return Response(status_code=404, media_type=JSON)


async def _delete_silence(am: Alertmanager, request: Request) -> Response:
    sid = request.path_params["sid"]
    try:
        am.silences.expire(sid)
    except SilenceNotFound:
        return Response(status_code=404, media_type=JSON)
    except SilenceError as exc:
        return _error(str(exc), 500)
    return Response(status_code=200, media_type=JSON)


async def _status(am: Alertmanager, _: Request, version: str) -> Response:
    return _json(
        {
            "cluster": {"peers": [], "status": "disabled"},
            "config": {"original": am.config.original},
            "uptime": api_time(datetime.fromtimestamp(am.started).astimezone()),
            # the Alertmanager API version pharos implements, so amtool sees a matching server
            "versionInfo": {
                "branch": f"pharos-{version}",
                "buildDate": "",
                "buildUser": "pharos",
                "goVersion": f"python{platform.python_version()}",
                "revision": f"pharos-{version}",
                "version": AM_API_VERSION,
            },
        }
    )


async def _receivers(am: Alertmanager, _: Request) -> Response:
    return _json([{"name": name} for name in am.config.receivers])
