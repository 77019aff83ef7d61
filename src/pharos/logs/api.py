"""Loki's HTTP API on a FastAPI app: push, query, query_range, labels, label values, series,
index/stats, index/volume and tail (WebSocket), in Loki's JSON shapes.

Wiring: `register(app, store_provider)` where `store_provider()` returns the opened LogStore or
None while the server is starting (endpoints then answer 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from pharos.logs import push as pushmod
from pharos.logs.deletes import DeleteError, DeleteManager
from pharos.logs.engine import Engine, Matrix, QueryError, Scalar, Streams
from pharos.logs.limits import LimitsConfig, RateLimiter
from pharos.logs.logql import ParseError, parse
from pharos.logs.logql import ast as A
from pharos.logs.logql.lexer import parse_duration
from pharos.storage.logs import InvalidTenantError, LogStore, ScanSpec

DEFAULT_TENANT = "fake"
NS = 1_000_000_000
StoreProvider = Callable[[], LogStore | None]


class HTTPError(Exception):
    """An error answered as plain text with `status`, as Loki does."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _json(doc: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type="application/json")


def _text(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message.rstrip("\n") + "\n", status)


def tenant_of(headers: Any) -> str:
    """Tenant from X-Scope-OrgID (default `fake`), validated."""
    tenant = (headers.get("x-scope-orgid") or DEFAULT_TENANT).strip()
    if "|" in tenant:
        raise HTTPError(400, "multi-tenant queries are not supported")
    try:
        from pharos.storage.logs.store import validate_tenant

        return validate_tenant(tenant)
    except InvalidTenantError as exc:
        raise HTTPError(400, str(exc)) from None


def parse_time(value: str | None, default: int) -> int:
    """Loki's timestamp parameter: ns or s integers, float seconds or RFC3339 -> ns."""
    if value is None or value == "":
        return default
    try:
        if "." in value and value.replace(".", "", 1).lstrip("-").isdigit():
            return round(float(value) * NS)
        n = int(value)
        return n * NS if len(value.lstrip("-")) <= 10 else n
    except ValueError:
        pass
    try:
        ts = np.datetime64(value.replace("Z", "").split("+")[0], "ns")
        return int(ts.astype(np.int64))
    except ValueError:
        raise HTTPError(400, f'invalid parameter: cannot parse "{value}" to a valid timestamp') from None


def parse_step(value: str | None, default: int) -> int:
    """A step/interval: a duration string or (float) seconds -> ns."""
    if value is None or value == "":
        return default
    try:
        return int(float(value) * NS)
    except ValueError:
        pass
    try:
        return parse_duration(value)
    except ValueError:
        raise HTTPError(400, f'invalid parameter: cannot parse "{value}" to a valid duration') from None


def fmt_value(v: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return np.format_float_positional(v, trim="-")


def _ts_out(ns: int) -> float | int:
    return ns // NS if ns % NS == 0 else ns / NS


class LokiAPI:
    """Request handling shared by the routes."""

    def __init__(self, store_provider: StoreProvider, limits: LimitsConfig | None = None,
                 cancel_period_ns: int = 24 * 3600 * NS) -> None:
        self.store_provider = store_provider
        self.limits = limits or LimitsConfig()
        self.rates = RateLimiter()
        self.cancel_period_ns = cancel_period_ns
        self._deletes: DeleteManager | None = None
        self._deletes_lock = threading.Lock()

    def deletes(self) -> DeleteManager:
        """The delete-request manager of the current store."""
        store = self.store()
        with self._deletes_lock:
            if self._deletes is None or self._deletes.store is not store:
                self._deletes = DeleteManager(store, self.cancel_period_ns)
            self._deletes.cancel_period_ns = self.cancel_period_ns
            return self._deletes

    def delete(self, tenant: str, method: str, p: dict[str, str]) -> Response:
        """`/loki/api/v1/delete`: POST/PUT adds, GET lists, DELETE cancels."""
        try:
            mgr = self.deletes()
            if method == "GET":
                return _json(mgr.list(tenant))
            if method == "DELETE":
                mgr.cancel(tenant, p.get("request_id", ""), force=p.get("force") == "true")
            else:
                mgr.add(tenant, p)
        except DeleteError as exc:
            raise HTTPError(exc.status, exc.message) from None
        return Response(status_code=204)

    def store(self) -> LogStore:
        s = self.store_provider()
        if s is None:
            raise HTTPError(503, "log store is starting")
        return s

    # -- push ----------------------------------------------------------------------------------
    def push(self, tenant: str, body: bytes, ctype: str, encoding: str) -> Response:
        store = self.store()
        try:
            raw = pushmod.decompress(body, encoding)
            streams = pushmod.decode_push(raw, ctype)
            result = pushmod.push(store, self.limits, self.rates, tenant, streams)
        except pushmod.PushError as exc:
            return _text(exc.status, exc.message)
        if result.errors:
            return _text(result.status, "\n".join(result.errors))
        return Response(status_code=204)

    # -- queries -------------------------------------------------------------------------------
    def _parse(self, q: str | None) -> A.Expr:
        if not q:
            raise HTTPError(400, "query parameter is required")
        try:
            return parse(q)
        except ParseError as exc:
            raise HTTPError(400, str(exc)) from None

    def query_range(self, tenant: str, p: dict[str, str]) -> Response:
        now = time.time_ns()
        end = parse_time(p.get("end"), now)
        start = parse_time(p.get("start"), end - 3600 * NS)
        if end < start:
            raise HTTPError(400, "end timestamp must not be before or equal to start time")
        expr = self._parse(p.get("query"))
        limit = int(p.get("limit") or 100)
        direction = (p.get("direction") or "backward").lower()
        if direction not in ("forward", "backward"):
            raise HTTPError(400, f"invalid direction '{direction}'")
        started = time.monotonic()
        engine = self._engine(tenant)
        if isinstance(expr, A.LogExpr):
            self._check_limit(tenant, limit)
            interval = parse_step(p.get("interval"), 0)
            res = engine.logs(tenant, expr, start, end, limit, direction)
            return _json(_streams_doc(res, direction, interval, started))
        default_step = max(math.floor((end - start) / NS / 250), 1) * NS
        step = parse_step(p.get("step"), default_step)
        value = engine.metric(tenant, expr, start, end, step)
        return _json(_metric_doc(value, started, instant=False))

    def query(self, tenant: str, p: dict[str, str]) -> Response:
        at = parse_time(p.get("time"), time.time_ns())
        expr = self._parse(p.get("query"))
        if isinstance(expr, A.LogExpr):
            raise HTTPError(400, "log queries are not supported as an instant query type, please change "
                            "your query to a range query type")
        started = time.monotonic()
        value = self._engine(tenant).metric(tenant, expr, at, at, NS)
        doc = _metric_doc(value, started, instant=True)
        if isinstance(expr, A.VectorAgg) and expr.op in ("sort", "sort_desc"):
            rev = expr.op == "sort_desc"
            doc["data"]["result"].sort(key=lambda r: float(r["value"][1]), reverse=rev)
        return _json(doc)

    def _engine(self, tenant: str) -> Engine:
        return Engine(self.store(), self.limits.for_tenant(tenant).max_query_series)

    def _check_limit(self, tenant: str, limit: int) -> None:
        cap = self.limits.for_tenant(tenant).max_entries_limit_per_query
        if limit > cap:
            raise HTTPError(400, f"max entries limit per query exceeded, limit > max_entries_limit ({limit} > {cap})")

    # -- metadata ------------------------------------------------------------------------------
    def _range(self, p: dict[str, str]) -> tuple[int, int]:
        now = time.time_ns()
        end = parse_time(p.get("end"), now)
        since = parse_step(p.get("since"), 6 * 3600 * NS)
        return parse_time(p.get("start"), end - since), end

    def _active(self, tenant: str, p: dict[str, str], selectors: list[str]) -> list[dict[str, str]]:
        """Labels of streams with lines in the range, matching any selector (all if none)."""
        start, end = self._range(p)
        engine = self._engine(tenant)
        found: dict[int, dict[str, str]] = {}
        if not selectors:
            found = {i: lb for i, lb in enumerate(engine.store.streams(tenant)) if lb}
        for sel in selectors:
            expr = self._parse(sel)
            if not isinstance(expr, A.LogExpr):
                raise HTTPError(400, "a stream selector is required")
            found.update(engine.select(tenant, expr.matchers))
        active = engine.store.active_streams(tenant, list(found), start, end + 1) if found else []
        return [found[i] for i in active]

    def labels(self, tenant: str, p: dict[str, str]) -> Response:
        sel = [p["query"]] if p.get("query") else []
        names = sorted({k for lb in self._active(tenant, p, sel) for k in lb})
        return _json({"status": "success", "data": names})

    def label_values(self, tenant: str, name: str, p: dict[str, str]) -> Response:
        sel = [p["query"]] if p.get("query") else []
        values = sorted({lb[name] for lb in self._active(tenant, p, sel) if name in lb})
        return _json({"status": "success", "data": values})

    def series(self, tenant: str, p: dict[str, str], matches: list[str]) -> Response:
        if not matches:
            raise HTTPError(400, "at least one match[] argument is required")
        found = self._active(tenant, p, matches)
        return _json({"status": "success", "data": sorted(found, key=lambda lb: sorted(lb.items()))})

    def _stats_rows(self, tenant: str, p: dict[str, str]) -> tuple[dict[int, dict[str, str]], Any, A.LogExpr]:
        expr = self._parse(p.get("query"))
        if not isinstance(expr, A.LogExpr):
            raise HTTPError(400, "a stream selector is required")
        start, end = self._range(p)
        engine = self._engine(tenant)
        streams = engine.select(tenant, expr.matchers)
        table = engine.store.stream_stats(tenant, ScanSpec(list(streams), start, end + 1))
        return streams, table, expr

    def index_stats(self, tenant: str, p: dict[str, str]) -> Response:
        _, table, _ = self._stats_rows(tenant, p)
        entries = int(sum(table.column("entries").to_pylist())) if table.num_rows else 0
        nbytes = int(sum(table.column("bytes").to_pylist())) if table.num_rows else 0
        return _json({"streams": table.num_rows, "chunks": table.num_rows, "bytes": nbytes, "entries": entries})

    def index_volume(self, tenant: str, p: dict[str, str]) -> Response:
        streams, table, expr = self._stats_rows(tenant, p)
        targets = [x for x in (p.get("targetLabels") or "").split(",") if x]
        by_labels = (p.get("aggregateBy") or "series") == "labels"
        names = targets or [m.name for m in expr.matchers]
        volume: dict[tuple[tuple[str, str], ...], int] = {}
        for sid, nbytes in zip(table.column("stream").to_pylist(), table.column("bytes").to_pylist(), strict=True):
            lb = streams[int(sid)]
            if by_labels:
                keys = [((n, lb[n]),) for n in names if n in lb] if targets else [((n, ""),) for n in lb]
            else:
                keys = [tuple(sorted((n, lb[n]) for n in names if n in lb))]
            for key in keys:
                volume[key] = volume.get(key, 0) + int(nbytes)
        limit = int(p.get("limit") or 100)
        _, end = self._range(p)
        result = [{"metric": dict(k), "value": [_ts_out(end), str(v)]}
                  for k, v in sorted(volume.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
        return _json({"status": "success", "data": {"resultType": "vector", "result": result}})


def _stats(started: float, lines: int = 0, nbytes: int = 0, returned: int = 0) -> dict[str, Any]:
    elapsed = max(time.monotonic() - started, 1e-9)
    return {"summary": {"bytesProcessedPerSecond": int(nbytes / elapsed), "linesProcessedPerSecond":
                        int(lines / elapsed), "totalBytesProcessed": nbytes, "totalLinesProcessed": lines,
                        "execTime": elapsed, "queueTime": 0, "subqueries": 0, "totalEntriesReturned": returned,
                        "splits": 0, "shards": 0, "totalPostFilterLines": returned,
                        "totalStructuredMetadataBytesProcessed": 0},
            "querier": {"store": {"totalChunksRef": 0, "totalChunksDownloaded": 0}},
            "ingester": {"totalReached": 0, "totalChunksMatched": 0, "totalBatches": 0, "totalLinesSent": 0},
            "cache": {}}


def _thin(ts: np.ndarray, lines: list[str], interval: int, direction: str) -> tuple[np.ndarray, list[str]]:
    """Keep at most one line per `interval` (Loki's query_range interval for log queries)."""
    if interval <= 0 or not len(ts):
        return ts, lines
    keep, nxt = [], None
    for i, t in enumerate(ts.tolist()):
        if nxt is None or (t >= nxt if direction == "forward" else t <= nxt):
            keep.append(i)
            nxt = t + interval if direction == "forward" else t - interval
    return ts[keep], [lines[i] for i in keep]


def _streams_doc(res: Streams, direction: str, interval: int, started: float) -> dict[str, Any]:
    result = []
    returned = 0
    for lb, ts, lines in res.streams:
        ts, lines = _thin(ts, lines, interval, direction)
        returned += len(lines)
        result.append({"stream": lb, "values": [[str(t), line] for t, line in zip(ts.tolist(), lines, strict=True)]})
    return {"status": "success", "data": {"resultType": "streams", "result": result,
                                          "stats": _stats(started, res.lines_scanned, res.bytes_scanned, returned)}}


def _metric_doc(value: Matrix | Scalar, started: float, instant: bool) -> dict[str, Any]:
    steps = value.steps.tolist()
    if isinstance(value, Scalar):
        v = float(value.values[-1])
        return {"status": "success", "data": {"resultType": "scalar", "result": [_ts_out(steps[-1]), fmt_value(v)],
                                              "stats": _stats(started)}}
    result: list[dict[str, Any]] = []
    for lb, vals in value.series:
        if instant:
            if not math.isnan(vals[-1]):
                result.append({"metric": lb, "value": [_ts_out(steps[-1]), fmt_value(float(vals[-1]))]})
        else:
            pts = [[_ts_out(t), fmt_value(v)] for t, v in zip(steps, vals.tolist(), strict=True) if not math.isnan(v)]
            if pts:
                result.append({"metric": lb, "values": pts})
    if not instant:
        result.sort(key=lambda r: sorted(r["metric"].items()))
    kind = "vector" if instant else "matrix"
    return {"status": "success", "data": {"resultType": kind, "result": result, "stats": _stats(started)}}


def _params(request: Request, form: dict[str, str] | None = None) -> dict[str, str]:
    p = dict(request.query_params)
    if form:
        p.update(form)
    return p


async def _form(request: Request) -> dict[str, str]:
    if request.method != "POST":
        return {}
    form = await request.form()
    return {k: str(v) for k, v in form.items()}


def register(app: FastAPI, store_provider: StoreProvider, limits: LimitsConfig | None = None,
             cancel_period_ns: int = 24 * 3600 * NS) -> LokiAPI:
    """Mount Loki's API on `app`; returns the handler object (limits, rate limiter, deletes)."""
    api = LokiAPI(store_provider, limits, cancel_period_ns)
    router = APIRouter()

    async def guarded(fn: Callable[[], Response]) -> Response:
        try:
            return await run_in_threadpool(fn)
        except HTTPError as exc:
            return _text(exc.status, exc.message)
        except (QueryError, ParseError) as exc:
            return _text(400, str(exc))
        except InvalidTenantError as exc:
            return _text(400, str(exc))

    @router.post("/loki/api/v1/push")
    async def push(request: Request) -> Response:
        body = await request.body()
        ctype = request.headers.get("content-type", "application/x-protobuf")
        encoding = request.headers.get("content-encoding", "")

        def run() -> Response:
            return api.push(tenant_of(request.headers), body, ctype, encoding)

        return await guarded(run)

    @router.api_route("/loki/api/v1/query_range", methods=["GET", "POST"])
    async def query_range(request: Request) -> Response:
        p = _params(request, await _form(request))
        return await guarded(lambda: api.query_range(tenant_of(request.headers), p))

    @router.api_route("/loki/api/v1/query", methods=["GET", "POST"])
    async def query(request: Request) -> Response:
        p = _params(request, await _form(request))
        return await guarded(lambda: api.query(tenant_of(request.headers), p))

    @router.api_route("/loki/api/v1/labels", methods=["GET", "POST"])
    @router.api_route("/loki/api/v1/label", methods=["GET", "POST"])
    async def labels(request: Request) -> Response:
        p = _params(request, await _form(request))
        return await guarded(lambda: api.labels(tenant_of(request.headers), p))

    @router.api_route("/loki/api/v1/label/{name}/values", methods=["GET", "POST"])
    async def label_values(name: str, request: Request) -> Response:
        p = _params(request, await _form(request))
        return await guarded(lambda: api.label_values(tenant_of(request.headers), name, p))

    @router.api_route("/loki/api/v1/series", methods=["GET", "POST"])
    async def series(request: Request) -> Response:
        form = await request.form() if request.method == "POST" else None
        matches = list(request.query_params.getlist("match[]")) + (
            [str(x) for x in form.getlist("match[]")] if form else [])
        p = _params(request, {k: str(v) for k, v in form.items()} if form else None)
        return await guarded(lambda: api.series(tenant_of(request.headers), p, matches))

    @router.api_route("/loki/api/v1/index/stats", methods=["GET", "POST"])
    async def index_stats(request: Request) -> Response:
        p = _params(request, await _form(request))
        return await guarded(lambda: api.index_stats(tenant_of(request.headers), p))

    @router.api_route("/loki/api/v1/index/volume", methods=["GET", "POST"])
    async def index_volume(request: Request) -> Response:
        p = _params(request, await _form(request))
        return await guarded(lambda: api.index_volume(tenant_of(request.headers), p))

    @router.api_route("/loki/api/v1/delete", methods=["GET", "POST", "PUT", "DELETE"])
    async def delete(request: Request) -> Response:
        p = _params(request, await _form(request) if request.method in ("POST", "PUT") else None)
        return await guarded(lambda: api.delete(tenant_of(request.headers), request.method, p))

    @router.api_route("/loki/api/v1/status/buildinfo", methods=["GET"])
    async def buildinfo() -> Response:
        from pharos import __version__

        return _json({"version": "3.0.0", "revision": f"pharos-{__version__}", "branch": "", "buildUser": "",
                      "buildDate": "", "goVersion": ""})

    @router.websocket("/loki/api/v1/tail")
    async def tail(ws: WebSocket) -> None:
        await _tail(api, ws)

    app.include_router(router)
    return api


async def _tail(api: LokiAPI, ws: WebSocket) -> None:
    """Send new lines matching `query` as pushes arrive (the store notifies this loop), at least
    every second (delay_for seconds behind now)."""
    p = dict(ws.query_params)
    try:
        tenant = tenant_of(ws.headers)
        expr = api._parse(p.get("query"))
        if not isinstance(expr, A.LogExpr):
            raise HTTPError(400, "tail needs a log query")
        store = api.store()
    except HTTPError as exc:
        await ws.close(code=1008, reason=exc.message[:120])
        return
    await ws.accept()
    loop, event = asyncio.get_running_loop(), asyncio.Event()

    def notify(pushed: str) -> None:
        if pushed == tenant:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    store.add_listener(notify)
    try:
        await _tail_loop(api, ws, tenant, expr, p, event)
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        store.remove_listener(notify)


async def _tail_loop(api: LokiAPI, ws: WebSocket, tenant: str, expr: A.LogExpr, p: dict[str, str],
                     event: asyncio.Event) -> None:
    delay = int(p.get("delay_for") or 0) * NS
    limit = int(p.get("limit") or 100)
    cursor = parse_time(p.get("start"), time.time_ns() - 3600 * NS)
    closed = asyncio.ensure_future(ws.receive())  # the client's close ends the loop at once
    try:
        while not closed.done():
            cursor = await _tail_step(api, ws, tenant, expr, cursor, delay, limit, event)
            woke = asyncio.ensure_future(event.wait())
            await asyncio.wait({woke, closed}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED)
            woke.cancel()
    finally:
        closed.cancel()


async def _tail_step(api: LokiAPI, ws: WebSocket, tenant: str, expr: A.LogExpr, cursor: int, delay: int,
                     limit: int, event: asyncio.Event) -> int:
    """Send the lines in [cursor, now - delay]; returns the next cursor."""
    event.clear()
    end = time.time_ns() - delay + 1
    if end <= cursor:
        return cursor
    res = await run_in_threadpool(api._engine(tenant).logs, tenant, expr, cursor, end, limit, "forward")
    streams = [{"stream": lb, "values": [[str(t), x] for t, x in zip(ts.tolist(), ls, strict=True)]}
               for lb, ts, ls in res.streams]
    if not streams:
        return cursor
    await ws.send_text(orjson.dumps({"streams": streams}).decode())
    return max(int(ts.max()) for _, ts, _ in res.streams if len(ts)) + 1
