"""Prometheus's query HTTP API: /api/v1/query, query_range, format_query, parse_query."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import promql_parser as pp
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from pharos.metrics.promql.engine import Engine, Limits, QueryResult, parse
from pharos.metrics.promql.syntax import duration_ms
from pharos.metrics.promql.values import (
    BadDataError,
    PromQLError,
    Querier,
    Scalar,
    String,
    Vector,
)

_STATUS = {"bad_data": 400, "execution": 422, "timeout": 503, "canceled": 503, "internal": 500}


def format_float(f: float) -> str:
    """A sample value as Prometheus renders it in JSON."""
    r = repr(f)
    if "e" not in r and "n" not in r:  # positional shortest round-trip (not nan/inf)
        return r[:-2] if r.endswith(".0") else r
    return _format_float_slow(f)


def _format_float_slow(f: float) -> str:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mant, exp = (
            repr(float(f)).lower().split("e")
            if "e" in repr(float(f))
            else (np.format_float_scientific(f, trim="-").split("e"))
        )
        mant = mant[:-2] if mant.endswith(".0") else mant
        e = int(exp)
        return f"{mant}e{'+' if e >= 0 else '-'}{abs(e):02d}"
    return str(np.format_float_positional(f, trim="-"))


def format_ts(t_ms: int) -> float | int:
    """A timestamp in seconds (integer when whole)."""
    return t_ms // 1000 if t_ms % 1000 == 0 else t_ms / 1000.0


def parse_time(text: str | None, default_ms: int) -> int:
    """Unix seconds (float) or RFC 3339 into ms."""
    if text is None or text == "":
        return default_ms
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as err:
        raise BadDataError(f'cannot parse "{text}" to a valid timestamp') from err


def parse_duration_ms(text: str, what: str) -> int:
    """Float seconds or a Prometheus duration into ms."""
    try:
        v = float(text)
        if math.isnan(v) or math.isinf(v):
            raise BadDataError(f'cannot parse "{text}" to a valid duration')
        return round(v * 1000)
    except ValueError:
        pass
    total = duration_ms(text)
    if total is None:
        raise BadDataError(f'invalid parameter "{what}": cannot parse "{text}" to a valid duration')
    return total


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def error_response(err: PromQLError) -> Response:
    """Prometheus's error envelope."""
    return _json(
        {"status": "error", "errorType": err.error_type, "error": str(err)}, _STATUS.get(err.error_type, 422)
    )


def stats_json(res: QueryResult, prepare_s: float, queue_s: float) -> dict[str, Any]:
    """Prometheus's `stats` object (timings in seconds, sample counts)."""
    inner = res.stats.eval_seconds
    return {
        "timings": {
            "evalTotalTime": inner + prepare_s,
            "resultSortTime": 0,
            "queryPreparationTime": prepare_s,
            "innerEvalTime": inner,
            "execQueueTime": queue_s,
            "execTotalTime": inner + prepare_s + queue_s,
        },
        "samples": {
            "totalQueryableSamples": res.stats.queryable_samples,
            "peakSamples": res.stats.peak_samples,
        },
    }


def result_json(res: QueryResult, limit: int = 0) -> dict[str, Any]:
    """The `data` object of a successful query."""
    value = res.value
    warnings = list(res.warnings)
    if isinstance(value, Scalar):
        result: Any = [format_ts(int(res.grid[0])), format_float(float(value.values[0]))]
    elif isinstance(value, String):
        result = [format_ts(int(res.grid[0])), value.value]
    elif isinstance(value, Vector):
        t = format_ts(int(res.grid[0]))
        result = [
            {"metric": dict(value.labels[i]), "value": [t, format_float(float(value.values[i, 0]))]}
            for i in range(value.n)
            if value.present[i, 0]
        ]
    else:
        result = _matrix_json(value)  # type: ignore[arg-type]  # an instant range selector's list
    if limit and isinstance(result, list) and res.result_type in ("vector", "matrix") and len(result) > limit:
        result = result[:limit]
        warnings.append("results truncated due to limit")
    data = {"resultType": res.result_type, "result": result}
    out: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        out["warnings"] = warnings
    if res.infos:
        out["infos"] = list(res.infos)
    return out


def _matrix_json(series: list[tuple[Any, np.ndarray, np.ndarray]]) -> list[dict[str, Any]]:
    stamps: dict[int, float | int] = {}
    out = []
    for ls, ts, vals in series:
        tl = ts.tolist()
        for t in set(tl).difference(stamps):
            stamps[t] = format_ts(t)
        points = list(zip(map(stamps.__getitem__, tl), format_floats(vals), strict=True))
        out.append({"metric": dict(ls), "values": points})
    return out


def format_floats(vals: np.ndarray) -> list[str]:
    """`format_float` of every value. orjson writes the shortest round-trip digits in C, as
    repr() does; Python handles only what Prometheus renders otherwise (exponents, NaN, Inf)."""
    vals = np.asarray(vals, np.float64)
    with np.errstate(invalid="ignore"):
        mag = np.abs(vals)
        special = ~np.isfinite(vals) | (mag >= 1e16) | ((mag < 1e-4) & (vals != 0))
    plain = np.where(special, 0.0, vals) if special.any() else vals
    text = orjson.dumps(plain, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    if "e" in text or "E" in text or not len(vals):  # not expected in this range; stay exact
        out = [format_float(v) for v in vals.tolist()]
    else:
        out = (text[1:-1] + ",").replace(".0,", ",")[:-1].split(",")  # whole numbers lose ".0"
    for i in np.flatnonzero(special).tolist():
        out[i] = format_float(float(vals[i]))
    return out


async def _params(request: Request) -> dict[str, str]:
    params = dict(request.query_params)
    if request.method == "POST":
        form = await request.form()
        params.update({k: str(v) for k, v in form.items()})
    return params


def _limits(base: Limits, params: dict[str, str]) -> Limits:
    limits = Limits(**vars(base))
    if params.get("timeout"):
        limits.timeout_s = min(limits.timeout_s, parse_duration_ms(params["timeout"], "timeout") / 1000)
    if params.get("lookback_delta"):
        limits.lookback_ms = parse_duration_ms(params["lookback_delta"], "lookback_delta")
    return limits


def _limit(params: dict[str, str]) -> int:
    text = params.get("limit", "")
    if not text:
        return 0
    try:
        n = int(text)
    except ValueError as err:
        raise BadDataError("limit must be a number") from err
    if n < 0:
        raise BadDataError("limit must be non-negative")
    return n


def parse_query_param(expr: str) -> Any:
    """Parse the `query` parameter; errors read as Prometheus's API words them."""
    try:
        return parse(expr)
    except BadDataError as err:
        raise BadDataError(f'invalid parameter "query": {err}') from err


async def _run(params: dict[str, str], run: Callable[[Any], QueryResult]) -> Response:
    """Parse, evaluate in the thread pool, and render (with `stats` when asked for)."""
    t0 = time.perf_counter()
    node = parse_query_param(params.get("query", ""))
    t1 = time.perf_counter()
    queued: list[float] = []

    def work() -> QueryResult:
        queued.append(time.perf_counter() - t1)
        return run(node)

    res = await run_in_threadpool(work)
    body = result_json(res, _limit(params))
    if params.get("stats"):
        body["data"]["stats"] = stats_json(res, t1 - t0, queued[0])
    return _json(body)


def _endpoint(
    answer: Callable[[dict[str, str]], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """A route answering from the request's parameters; a PromQL error is Prometheus's envelope."""

    async def serve(request: Request) -> Response:
        try:
            return await answer(await _params(request))
        except PromQLError as err:
            return error_response(err)

    return serve


def query_router(querier_factory: Callable[[], Querier], limits: Limits | None = None) -> APIRouter:
    """An APIRouter serving the PromQL query endpoints."""
    router = APIRouter()
    base = limits or Limits()

    async def instant(params: dict[str, str]) -> Response:
        t = parse_time(params.get("time"), int(time.time() * 1000))
        lim = _limits(base, params)
        return await _run(params, lambda node: Engine(querier_factory(), lim).instant(node, t))

    async def range_(params: dict[str, str]) -> Response:
        start = parse_time(params.get("start"), -1)
        end = parse_time(params.get("end"), -1)
        if "start" not in params or "end" not in params:
            raise BadDataError(f'invalid parameter "{"start" if "start" not in params else "end"}"')
        if "step" not in params:
            raise BadDataError('invalid parameter "step": cannot parse "" to a valid duration')
        step = parse_duration_ms(params["step"], "step")
        if end < start:
            raise BadDataError('invalid parameter "end": end timestamp must not be before start time')
        lim = _limits(base, params)
        return await _run(params, lambda node: Engine(querier_factory(), lim).range(node, start, end, step))

    async def format_query(params: dict[str, str]) -> Response:
        node = parse_query_param(params.get("query", ""))
        return _json({"status": "success", "data": node.prettify()})

    async def parse_query(params: dict[str, str]) -> Response:
        return _json({"status": "success", "data": ast_json(parse_query_param(params.get("query", "")))})

    for path, fn in (
        ("/api/v1/query", instant),
        ("/api/v1/query_range", range_),
        ("/api/v1/format_query", format_query),
        ("/api/v1/parse_query", parse_query),
    ):
        router.add_api_route(path, _endpoint(fn), methods=["GET", "POST"], include_in_schema=True)
    return router


def _dur(td: Any) -> str:
    return pp.display_duration(td) if td is not None else "0s"


def _matchers(vs: Any) -> list[dict[str, str]]:
    ops = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
    out = [
        {"type": ops[str(m.op).rsplit(".", 1)[-1]], "name": m.name, "value": m.value}
        for m in vs.matchers.matchers
    ]
    if vs.name and not any(m["name"] == "__name__" for m in out):
        out.insert(0, {"type": "=", "name": "__name__", "value": vs.name})
    return out


def ast_json(node: Any) -> dict[str, Any]:
    """The parse_query JSON rendering of an AST (Prometheus's shape, best effort)."""
    if isinstance(node, pp.ParenExpr):
        return {"type": "parenExpr", "expr": ast_json(node.expr)}
    if isinstance(node, pp.NumberLiteral):
        return {"type": "numberLiteral", "val": format_float(float(node.val))}
    if isinstance(node, pp.StringLiteral):
        return {"type": "stringLiteral", "val": node.val}
    if isinstance(node, pp.VectorSelector):
        return {
            "type": "vectorSelector",
            "name": node.name or "",
            "matchers": _matchers(node),
            "offset": _dur(node.offset),
            "timestamp": None,
            "startOrEnd": None,
        }
    if isinstance(node, pp.MatrixSelector):
        return {
            "type": "matrixSelector",
            "range": _dur(node.range),
            "vectorSelector": ast_json(node.vector_selector),
        }
    if isinstance(node, pp.SubqueryExpr):
        return {
            "type": "subquery",
            "expr": ast_json(node.expr),
            "range": _dur(node.range),
            "offset": _dur(node.offset),
            "step": _dur(node.step) if node.step else "",
        }
    if isinstance(node, pp.UnaryExpr):
        return {"type": "unaryExpr", "op": "-", "expr": ast_json(node.expr)}
    if isinstance(node, pp.BinaryExpr):
        return {
            "type": "binaryExpr",
            "op": str(node.op).strip(),
            "lhs": ast_json(node.lhs),
            "rhs": ast_json(node.rhs),
            "bool": bool(node.modifier and node.modifier.return_bool),
        }
    if isinstance(node, pp.AggregateExpr):
        mod = node.modifier
        return {
            "type": "aggregation",
            "op": str(node.op).strip(),
            "expr": ast_json(node.expr),
            "param": ast_json(node.param) if node.param is not None else None,
            "grouping": list(mod.labels) if mod else [],
            "without": bool(mod and mod.type == pp.AggModifierType.Without),
        }
    if isinstance(node, pp.Call):
        return {"type": "call", "func": {"name": node.func.name}, "args": [ast_json(a) for a in node.args]}
    return {"type": type(node).__name__}
