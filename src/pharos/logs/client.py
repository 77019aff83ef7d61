"""`pharos logs 'LOGQL'`: query a pharos (or Loki) server like logcli.

Log queries page through `query_range` in batches (the server caps one answer at
`max_entries_limit_per_query`), printing lines as `default` (timestamp, labels, line), `raw` (the
line) or `jsonl` (logcli's `{"labels", "line", "timestamp"}`); metric queries print the result JSON.
`--follow` tails over the WebSocket API until interrupted.
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from pharos.logs.logql import ParseError, parse
from pharos.logs.logql import ast as A
from pharos.logs.logql.lexer import parse_duration

NS = 1_000_000_000
OUTPUTS = ("default", "raw", "jsonl")
BATCH = 1000


class ClientError(Exception):
    """A one-line error for the command line."""


@dataclass
class LogsQuery:
    """What `pharos logs` was asked."""

    query: str
    server: str = "http://127.0.0.1:9494"
    since: str = "1h"
    start: str | None = None
    end: str | None = None
    limit: int = 30
    forward: bool = False
    output: str = "default"
    org_id: str | None = None
    step: str | None = None


def parse_cli_time(value: str) -> int:
    """RFC3339 or unix seconds / nanoseconds -> ns."""
    v = value.strip()
    if v.lstrip("-").isdigit():
        n = int(v)
        return n * NS if len(v.lstrip("-")) <= 10 else n
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise ClientError(f"invalid time {value!r}: use RFC3339 (2024-01-02T03:04:05Z) or unix seconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * NS + dt.microsecond * 1000


def time_range(q: LogsQuery, now_ns: int) -> tuple[int, int]:
    """[start, end] in ns from --from/--to or --since."""
    end = parse_cli_time(q.end) if q.end else now_ns
    if q.start:
        start = parse_cli_time(q.start)
    else:
        try:
            start = end - parse_duration(q.since)
        except ValueError:
            raise ClientError(f"invalid --since {q.since!r}: use a duration such as 15m or 2h") from None
    if start > end:
        raise ClientError("--from must not be after --to")
    return start, end


class Client:
    """GET requests against the Loki API of one server."""

    def __init__(self, server: str, org_id: str | None) -> None:
        self.server = server.rstrip("/")
        self.headers = {"X-Scope-OrgID": org_id} if org_id else {}

    def get(self, path: str, params: dict[str, str]) -> Any:
        url = f"{self.server}{path}?{urllib.parse.urlencode(params)}"
        req = urllib.request.Request(url, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=300) as resp:
                return orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace").strip().splitlines()
            raise ClientError(f"server answered {exc.code}: {body[0] if body else exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClientError(f"cannot reach {self.server}: {reason}") from None


def format_entry(output: str, labels: dict[str, str], ts: int, line: str) -> str:
    """One output line for an entry."""
    if output == "raw":
        return line
    stamp = rfc3339_nano(ts)
    if output == "jsonl":
        return orjson.dumps({"labels": labels, "line": line, "timestamp": stamp}).decode()
    shown = "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    return f"{stamp} {shown} {line}"


def rfc3339_nano(ns: int) -> str:
    """Go's RFC3339Nano in UTC."""
    sec, frac = divmod(ns, NS)
    base = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return base + (("." + f"{frac:09d}".rstrip("0")) if frac else "") + "Z"


def _entries(data: dict[str, Any]) -> list[tuple[int, dict[str, str], str]]:
    return [(int(ts), s["stream"], line) for s in data["result"] for ts, line in s["values"]]


def fetch_logs(client: Client, q: LogsQuery, start: int, end: int) -> Iterable[tuple[int, dict[str, str], str]]:
    """Up to q.limit entries in the query's direction, paging in batches."""
    direction = "forward" if q.forward else "backward"
    left, lo, hi = q.limit, start, end + 1
    seen: set[tuple[int, str, str]] = set()
    while left > 0:
        size = min(BATCH, left + len(seen))
        params = {"query": q.query, "start": str(lo), "end": str(hi), "limit": str(size), "direction": direction}
        got = _entries(client.get("/loki/api/v1/query_range", params)["data"])
        got.sort(key=lambda e: e[0], reverse=not q.forward)
        fresh = [e for e in got if (e[0], orjson.dumps(e[1]).decode(), e[2]) not in seen][:left]
        yield from fresh
        left -= len(fresh)
        if len(got) < size or not fresh:
            return
        edge = got[-1][0]
        seen = {(e[0], orjson.dumps(e[1]).decode(), e[2]) for e in got if e[0] == edge}
        lo, hi = (edge, hi) if q.forward else (lo, edge + 1)


def run(q: LogsQuery, out: TextIO = sys.stdout) -> None:
    """Answer one query on `out` (ClientError on bad input or a failed request)."""
    if q.output not in OUTPUTS:
        raise ClientError(f"invalid --output {q.output!r}: use default, raw or jsonl")
    if q.limit < 0:
        raise ClientError("--limit must not be negative")
    try:
        expr = parse(q.query)
    except ParseError as exc:
        raise ClientError(str(exc).splitlines()[0]) from None
    start, end = time_range(q, time.time_ns())
    client = Client(q.server, q.org_id)
    if not isinstance(expr, A.LogExpr):
        params = {"query": q.query, "start": str(start), "end": str(end)}
        if q.step:
            params["step"] = q.step
        data = client.get("/loki/api/v1/query_range", params)["data"]
        out.write(orjson.dumps(data["result"], option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for ts, labels, line in fetch_logs(client, q, start, end):
        out.write(format_entry(q.output, labels, ts, line) + "\n")


def follow(q: LogsQuery, out: TextIO = sys.stdout, stop: Callable[[], bool] = lambda: False) -> None:
    """Tail over the WebSocket API, printing entries as they arrive, until interrupted."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    if q.output not in OUTPUTS:
        raise ClientError(f"invalid --output {q.output!r}: use default, raw or jsonl")
    try:
        expr = parse(q.query)
    except ParseError as exc:
        raise ClientError(str(exc).splitlines()[0]) from None
    if not isinstance(expr, A.LogExpr):
        raise ClientError("--follow needs a log query, not a metric query")
    start, _ = time_range(q, time.time_ns())
    base = q.server.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    url = f"{base}/loki/api/v1/tail?" + urllib.parse.urlencode({"query": q.query, "start": str(start),
                                                                  "limit": str(max(q.limit, 1))})
    headers = {"X-Scope-OrgID": q.org_id} if q.org_id else None
    try:
        with connect(url, additional_headers=headers, open_timeout=10) as ws:
            while not stop():
                try:
                    msg = orjson.loads(ws.recv(timeout=0.5))
                except TimeoutError:
                    continue
                for s in msg.get("streams", []):
                    for ts, line in s["values"]:
                        out.write(format_entry(q.output, s["stream"], int(ts), line) + "\n")
                out.flush()
    except ConnectionClosed as exc:
        raise ClientError(f"tail closed by the server: {exc.rcvd.reason if exc.rcvd else exc}") from None
    except OSError as exc:
        raise ClientError(f"cannot reach {q.server}: {exc}") from None
