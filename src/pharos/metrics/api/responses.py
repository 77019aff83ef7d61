"""Response bodies as Prometheus writes them: the JSON envelope, Go time and duration formats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

from pharos.metrics.api.errors import ApiError

JSON = "application/json"
_ZERO_TIME = "0001-01-01T00:00:00Z"
_DURATION_UNITS = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)


def success(data: Any, warnings: list[str] | None = None) -> Response:
    """`{"status":"success","data":...}` with an optional `warnings` list."""
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = warnings
    return Response(orjson.dumps(body), media_type=JSON)


def error(err: ApiError) -> Response:
    """`{"status":"error","errorType":...,"error":...}` with Prometheus's status code."""
    body = {"status": "error", "errorType": err.error_type.value, "error": err.message}
    return Response(orjson.dumps(body), status_code=err.status_code, media_type=JSON)


def go_time(unix_seconds: float) -> str:
    """Format like Go's time.Time JSON (RFC3339Nano in UTC); 0 is Go's zero time."""
    if unix_seconds <= 0:
        return _ZERO_TIME
    whole = int(unix_seconds)
    nanos = round((unix_seconds - whole) * 1e9)
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    stamp = datetime.fromtimestamp(whole, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{nanos:09d}".rstrip("0")
    return f"{stamp}.{frac}Z" if frac else f"{stamp}Z"


def prom_duration(seconds: float) -> str:
    """Format like Prometheus's model.Duration: 15s, 1m30s, 2h, 15d, 0s."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s"
    out = []
    for unit, size in _DURATION_UNITS:
        if unit in ("y", "w") and millis % size:
            continue  # years and weeks only when exact: 90d reads better than 12w6d
        count, millis = divmod(millis, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
