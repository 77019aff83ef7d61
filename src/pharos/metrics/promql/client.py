"""`pharos query`: PromQL against a running server, like `promtool query instant/range`."""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from pharos.metrics.promql.syntax import duration_ms

MAX_RANGE_POINTS = 250


class QueryClientError(Exception):
    """A one-line reason the query could not be answered."""


@dataclass
class QueryRequest:
    """What to ask: an expression, and an instant time or a range."""

    expr: str
    server: str = "http://127.0.0.1:9494"
    time: str | None = None
    start: str | None = None
    end: str | None = None
    step: str | None = None

    @property
    def is_range(self) -> bool:
        return any(v is not None for v in (self.start, self.end, self.step))


def parse_duration(text: str) -> float:
    """A Prometheus duration (`1h30m`) or plain seconds, in seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    ms = duration_ms(text, fractions=True)
    if ms is None:
        raise QueryClientError(f"bad duration {text!r}")
    return ms / 1000


def parse_time(text: str, now: float) -> float:
    """Unix seconds, RFC 3339, `now`, or `now-<duration>`, as Unix seconds."""
    if text == "now":
        return now
    if text.startswith("now-"):
        return now - parse_duration(text[4:])
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise QueryClientError(f"bad time {text!r}: use Unix seconds, RFC 3339 or now[-DURATION]") from None


def query_params(req: QueryRequest, now: float | None = None) -> tuple[str, dict[str, str]]:
    """The API path and parameters for a request."""
    now = time.time() if now is None else now
    if not req.is_range:
        t = parse_time(req.time, now) if req.time else now
        return "/api/v1/query", {"query": req.expr, "time": _num(t)}
    end = parse_time(req.end, now) if req.end else now
    start = parse_time(req.start, now) if req.start else end - 3600
    if end < start:
        raise QueryClientError("--end is before --start")
    step = parse_duration(req.step) if req.step else max(1.0, math.ceil((end - start) / MAX_RANGE_POINTS))
    if step <= 0:
        raise QueryClientError("--step must be positive")
    return "/api/v1/query_range", {
        "query": req.expr,
        "start": _num(start),
        "end": _num(end),
        "step": _num(step),
    }


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.3f}"


def fetch(req: QueryRequest, timeout: float = 130.0) -> dict[str, Any]:
    """POST the query; the response's `data` (with warnings/infos), or QueryClientError."""
    path, params = query_params(req)
    url = req.server.rstrip("/") + path
    body = urllib.parse.urlencode(params).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            payload = json.loads(resp.read())
    except urllib.error.HTTPError as err:
        payload = _error_payload(err)
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise QueryClientError(f"cannot reach {req.server}: {reason}") from None
    except ValueError as err:
        raise QueryClientError(f"{url}: not a JSON answer ({err})") from None
    if payload.get("status") != "success":
        raise QueryClientError(f"{payload.get('errorType', 'error')}: {payload.get('error', 'query failed')}")
    data: dict[str, Any] = payload["data"]
    for key in ("warnings", "infos"):
        if payload.get(key):
            data[key] = payload[key]
    return data


def _error_payload(err: urllib.error.HTTPError) -> dict[str, Any]:
    try:
        payload = json.loads(err.read())
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise QueryClientError(f"HTTP {err.code} from {err.url}") from None
    return payload


def _labels(metric: dict[str, str]) -> str:
    name = metric.get("__name__", "")
    rest = ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    return f"{name}{{{rest}}}" if rest or not name else name


def _ts(t: float) -> str:
    return datetime.fromtimestamp(float(t)).astimezone().isoformat(timespec="milliseconds")


def render_table(data: dict[str, Any], console: Console) -> None:
    """A rich table: one row per sample (series, value, time)."""
    kind, result = data["resultType"], data["result"]
    table = Table(box=None, header_style="bold")
    if kind in ("scalar", "string"):
        table.add_column(kind)
        table.add_column("time")
        table.add_row(str(result[1]), _ts(result[0]))
    else:
        for col in ("series", "value", "time"):
            table.add_column(col, justify="right" if col == "value" else "left")
        for item in result:
            points = [item["value"]] if kind == "vector" else item["values"]
            for t, v in points:
                table.add_row(_labels(item["metric"]), v, _ts(t))
    console.print(table)
    for key in ("warnings", "infos"):
        for message in data.get(key, []):
            console.print(f"{key[:-1]}: {message}", style="yellow", highlight=False)
    if kind in ("vector", "matrix") and not result:
        console.print("(no series)", style="dim")


def render_json(data: dict[str, Any]) -> str:
    """The `data` object as the API returned it."""
    return json.dumps(data, indent=2)
