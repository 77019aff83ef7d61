"""/api/v1/export: raw samples as JSON lines, the shape VictoriaMetrics uses.

One line per series: `{"metric":{...},"values":[...],"timestamps":[...]}` with timestamps in
int64 milliseconds and values as JSON numbers in shortest round-trip form, so every stored
float64 reads back bit for bit. As in VictoriaMetrics, NaN is `null` and the infinities are the
strings "Infinity" / "-Infinity".

Staleness markers are not samples and are left out by default (a VictoriaMetrics reader would
take them for NaN). `include_stale=1` keeps them, written as the string "StaleNaN", so a full
dump of what the TSDB holds is possible. Parameters: `match[]` (required, repeatable), `start`
(default: the earliest time) and `end` (default: the latest), as for /api/v1/series.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson

from pharos.metrics.api.errors import bad_data, invalid_param
from pharos.metrics.api.params import MAX_TIME_MS, MIN_TIME_MS, first, parse_matcher_sets, time_param
from pharos.metrics.model import STALE_NAN_BITS, Labels, Matcher
from pharos.metrics.tsdb.db import TSDB, SeriesData

Form = dict[str, list[str]]
_TRUE = {"1", "true", "yes"}


class ExportRequest:
    """Validated export parameters."""

    def __init__(self, form: Form) -> None:
        if not form.get("match[]"):
            raise bad_data("no match[] parameter provided")
        self.start = time_param(form, "start", MIN_TIME_MS)
        self.end = time_param(form, "end", MAX_TIME_MS)
        try:
            self.sets: list[list[Matcher]] = parse_matcher_sets(form["match[]"])
        except ValueError as exc:
            raise invalid_param("match[]", str(exc)) from None
        self.include_stale = first(form, "include_stale").lower() in _TRUE


def select_all(tsdb: TSDB, req: ExportRequest) -> list[SeriesData]:
    """Series matching any matcher set, each once, ordered by labels."""
    found: dict[Labels, SeriesData] = {}
    for matchers in req.sets:
        for data in tsdb.select(matchers, req.start, req.end):
            found.setdefault(data.labels, data)
    return [found[k] for k in sorted(found)]


async def export_lines(tsdb: TSDB, req: ExportRequest) -> Iterator[bytes]:
    """Select in a worker thread, then yield one encoded line per non-empty series."""
    series = await asyncio.to_thread(select_all, tsdb, req)
    return (line for data in series if (line := encode_line(data, req.include_stale)))


def encode_line(data: SeriesData, include_stale: bool) -> bytes:
    """One JSON line for a series, b"" when no sample is left after dropping stale markers."""
    ts = np.asarray(data.timestamps, dtype=np.int64)
    values = np.asarray(data.values, dtype=np.float64)
    stale = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    if not include_stale and stale.any():
        ts, values, stale = ts[~stale], values[~stale], stale[~stale]
    if len(ts) == 0:
        return b""
    body = {"metric": dict(data.labels), "values": _json_values(values, stale), "timestamps": ts.tolist()}
    return orjson.dumps(body) + b"\n"


def _json_values(values: np.ndarray, stale: np.ndarray) -> list[Any]:
    """Values as JSON-ready objects: floats, None for NaN, strings for ±Inf and markers."""
    out: list[Any] = values.tolist()
    if stale.any() or np.isinf(values).any():
        for i in np.flatnonzero(stale | np.isinf(values)).tolist():
            out[i] = "StaleNaN" if stale[i] else ("Infinity" if values[i] > 0 else "-Infinity")
    return out
