"""`/federate?match[]=...`: the newest sample (within the 5m lookback) of every selected series in
the Prometheus text format, as Prometheus 2.42's federation handler writes it: one untyped family
per metric name, series labels in order then external labels the series lacks, with timestamps."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pharos.metrics.api.errors import ApiError
from pharos.metrics.api.forms import read_form
from pharos.metrics.api.params import parse_matcher_sets
from pharos.metrics.model import METRIC_NAME, Labels, escape_label_value, is_stale_marker
from pharos.metrics.pushgateway.gofloat import go_g
from pharos.metrics.tsdb.db import TSDB

LOOKBACK_MS = 5 * 60 * 1000
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def latest_samples(tsdb: TSDB, selectors: list[str], now_ms: int) -> list[tuple[Labels, int, float]]:
    """(labels, ts, value) of the newest non-stale sample of every matching series."""
    out: dict[Labels, tuple[int, float]] = {}
    for matchers in parse_matcher_sets(selectors):
        for series in tsdb.select(matchers, now_ms - LOOKBACK_MS, now_ms):
            if series.labels in out or not len(series.timestamps):
                continue
            value = float(series.values[-1])
            if not is_stale_marker(value):
                out[series.labels] = (int(series.timestamps[-1]), value)
    ordered = sorted(out.items(), key=lambda item: (dict(item[0]).get(METRIC_NAME, ""), item[0]))
    return [(labels, t, v) for labels, (t, v) in ordered]


def render(samples: list[tuple[Labels, int, float]], external: dict[str, str]) -> str:
    """The text exposition of `samples` (sorted by name, so families are contiguous)."""
    lines: list[str] = []
    last_name = None
    for labels, ts, value in samples:
        name = dict(labels).get(METRIC_NAME, "")
        if name != last_name:
            lines.append(f"# TYPE {name} untyped")
            last_name = name
        pairs = [(n, v) for n, v in labels if n != METRIC_NAME]
        present = {n for n, _ in pairs}
        pairs += [(n, v) for n, v in sorted(external.items()) if n not in present]
        inner = ",".join(f'{n}="{escape_label_value(v)}"' for n, v in pairs)
        series = f"{name}{{{inner}}}" if inner else name
        lines.append(f"{series} {go_g(value)} {ts}")
    return "".join(line + "\n" for line in lines)


def register(app: FastAPI, runtime: Any) -> None:
    """Mount GET/POST /federate."""

    @app.api_route("/federate", methods=["GET", "POST"])
    async def federate(request: Request) -> Response:
        """Federation: the latest samples of the series selected by `match[]`."""
        tsdb = runtime.tsdb
        if tsdb is None:
            return PlainTextResponse("TSDB not ready\n", status_code=503)
        try:
            form = await read_form(request)
        except ApiError as exc:  # a body that is not a form: 400 in plain text, as Prometheus
            return PlainTextResponse(f"{exc}\n", status_code=400)
        try:
            samples = latest_samples(tsdb, form.get("match[]", []), int(time.time() * 1000))
        except ValueError as exc:
            return PlainTextResponse(f"{exc}\n", status_code=400)
        external = dict(runtime.loaded.config.global_.external_labels)
        return Response(render(samples, external), media_type=CONTENT_TYPE)
