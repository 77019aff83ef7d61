"""The Prometheus HTTP API endpoints (GET, and form POST where Prometheus accepts it).

Each handler gets the merged form and returns the `data` of a success envelope (or raises
ApiError); `routes.py` wraps them with readiness, CORS and the envelope.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
from collections.abc import Callable
from typing import Any

from pharos import __version__
from pharos.metrics.api.context import ApiContext
from pharos.metrics.api.errors import ApiError, ErrorType, bad_data, invalid_param
from pharos.metrics.api.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    first,
    int_param,
    limit_param,
    parse_matcher_sets,
    parse_selector,
    time_param,
)
from pharos.metrics.api.responses import go_time, prom_duration
from pharos.metrics.model import Labels, Matcher
from pharos.metrics.scrape.manager import MetricMetadataEntry, ScrapeManager, TargetStatus
from pharos.metrics.tsdb.db import TSDB

Form = dict[str, list[str]]
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TRUNCATED = "results truncated due to limit"


class Result:
    """A handler's `data` plus optional warnings."""

    def __init__(self, data: Any, warnings: list[str] | None = None) -> None:
        self.data = data
        self.warnings = warnings or []


def _tsdb(ctx: ApiContext) -> TSDB:
    if ctx.tsdb is None:
        raise ApiError(ErrorType.UNAVAILABLE, "TSDB not ready")
    return ctx.tsdb


def _scrape(ctx: ApiContext) -> ScrapeManager | None:
    return ctx.scrape


def _matchers(form: Form, *, wrap: bool) -> list[list[Matcher]]:
    try:
        return parse_matcher_sets(form.get("match[]", []))
    except ValueError as exc:
        raise (invalid_param("match[]", str(exc)) if wrap else bad_data(str(exc))) from None


def _truncate(items: list[Any], limit: int) -> Result:
    if limit and len(items) > limit:
        return Result(items[:limit], [TRUNCATED])
    return Result(items)


async def series(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/series: label sets of the series matching any `match[]` in [start, end]."""
    if not form.get("match[]"):
        raise bad_data("no match[] parameter provided")
    start = time_param(form, "start", MIN_TIME_MS)
    end = time_param(form, "end", MAX_TIME_MS)
    sets = _matchers(form, wrap=True)
    limit = limit_param(form)
    found: list[Labels] = await asyncio.to_thread(_tsdb(ctx).series, sets, start, end)
    return _truncate([dict(labels) for labels in found], limit)


async def labels(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/labels: label names of series matching `match[]` (all series without it)."""
    start = time_param(form, "start", MIN_TIME_MS)
    end = time_param(form, "end", MAX_TIME_MS)
    sets = _matchers(form, wrap=False)
    limit = limit_param(form)
    names = await asyncio.to_thread(_tsdb(ctx).label_names, sets, start, end)
    return _truncate(list(names), limit)


async def label_values(ctx: ApiContext, form: Form, name: str) -> Result:
    """/api/v1/label/<name>/values."""
    if not LABEL_NAME_RE.fullmatch(name):
        raise bad_data(f'invalid label name: "{name}"')
    start = time_param(form, "start", MIN_TIME_MS)
    end = time_param(form, "end", MAX_TIME_MS)
    sets = _matchers(form, wrap=False)
    limit = limit_param(form)
    values = await asyncio.to_thread(_tsdb(ctx).label_values, name, sets, start, end)
    return _truncate(list(values), limit)


async def metadata(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/metadata: {metric: [{type, help, unit}, ...]} over all active targets."""
    limit = int_param(form, "limit", -1)
    per_metric = int_param(form, "limit_per_metric", -1)
    wanted = first(form, "metric")
    scrape = _scrape(ctx)
    grouped: dict[str, list[dict[str, str]]] = {}
    for entry in scrape.metadata() if scrape else []:
        if wanted and entry.metric != wanted:
            continue
        item = {"type": entry.type, "help": entry.help, "unit": entry.unit}
        rows = grouped.setdefault(entry.metric, [])
        if item not in rows:
            rows.append(item)
    out: dict[str, list[dict[str, str]]] = {}
    for metric, rows in grouped.items():
        if 0 <= limit <= len(out):
            break
        out[metric] = rows[:per_metric] if per_metric > 0 else rows
    return Result(out)


async def targets(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/targets: active and dropped targets, filtered by `state` and `scrapePool`."""
    state = first(form, "state").strip().lower()
    pool = first(form, "scrapePool")
    show_active = state in ("", "any", "active")
    show_dropped = state in ("", "any", "dropped")
    scrape = _scrape(ctx)
    snap = scrape.targets() if scrape else None
    active = [t for t in snap.active if not pool or t.scrape_pool == pool] if snap and show_active else []
    dropped = snap.dropped if snap and show_dropped and not pool else []
    active.sort(key=lambda t: t.scrape_pool)
    data: dict[str, Any] = {
        "activeTargets": [_target_json(t) for t in active],
        "droppedTargets": [{"discoveredLabels": d.discovered_labels} for d in dropped],
    }
    errors = {p: e for p, e in snap.discovery_errors.items() if not pool or p == pool} if snap else {}
    if errors:  # pharos' addition, only present when discovery fails (e.g. an unreachable API server)
        data["discoveryErrors"] = errors
    return Result(data)


def _target_json(t: TargetStatus) -> dict[str, Any]:
    return {
        "discoveredLabels": t.discovered_labels,
        "labels": t.labels,
        "scrapePool": t.scrape_pool,
        "scrapeUrl": t.scrape_url,
        "globalUrl": t.global_url,
        "lastError": t.last_error,
        "lastScrape": go_time(t.last_scrape),
        "lastScrapeDuration": t.last_scrape_duration,
        "health": t.health,
        "scrapeInterval": prom_duration(t.scrape_interval),
        "scrapeTimeout": prom_duration(t.scrape_timeout),
    }


async def targets_metadata(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/targets/metadata: metadata rows per target (`match_target`, `metric`, `limit`)."""
    limit = int_param(form, "limit", -1)
    match_target = first(form, "match_target")
    target_sets: list[list[Matcher]] = []
    if match_target:
        try:
            target_sets = parse_selector(match_target)
        except ValueError as exc:
            raise invalid_param("match_target", str(exc)) from None
    wanted = first(form, "metric")
    scrape = _scrape(ctx)
    out: list[dict[str, Any]] = []
    for target, entries in _by_target(scrape.metadata() if scrape else []):
        if 0 <= limit <= len(out):
            break
        if target_sets and not _matches_any(target, target_sets):
            continue
        for entry in entries:
            if wanted and entry.metric != wanted:
                continue
            row: dict[str, Any] = {"target": target}
            if not wanted:
                row["metric"] = entry.metric
            row.update(type=entry.type, help=entry.help, unit=entry.unit)
            out.append(row)
    return Result(out)


def _by_target(entries: list[MetricMetadataEntry]) -> list[tuple[dict[str, str], list[MetricMetadataEntry]]]:
    """Group metadata rows by target, keeping the manager's order (as Prometheus loops targets)."""
    groups: dict[Labels, list[MetricMetadataEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.target, []).append(entry)
    return [(dict(target), rows) for target, rows in groups.items()]


def _matches_any(labels: dict[str, str], sets: list[list[Matcher]]) -> bool:
    return any(all(m.matches(labels.get(m.name, "")) for m in ms) for ms in sets)


async def status_config(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/status/config."""
    return Result({"yaml": ctx.config_yaml()})


async def status_flags(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/status/flags."""
    return Result(ctx.flags())


async def status_buildinfo(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/status/buildinfo: Prometheus's fields, filled with pharos' build."""
    return Result(
        {
            "version": __version__,
            "revision": os.environ.get("PHAROS_REVISION", "unknown"),
            "branch": os.environ.get("PHAROS_BRANCH", ""),
            "buildUser": "",
            "buildDate": "",
            "goVersion": f"python{platform.python_version()}",
        }
    )


async def status_runtimeinfo(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/status/runtimeinfo."""
    return Result(ctx.runtime_info())


async def status_tsdb(ctx: ApiContext, form: Form) -> Result:
    """/api/v1/status/tsdb: head stats and top-10 cardinality lists."""
    stats = await asyncio.to_thread(_tsdb(ctx).stats)
    return Result({k: v for k, v in stats.items() if k != "pharos"})


async def drop_series(ctx: ApiContext, form: Form) -> Result:
    """DELETE /api/v1/series: Prometheus answers `internal: not implemented`."""
    raise ApiError(ErrorType.INTERNAL, "not implemented")


Handler = Callable[[ApiContext, Form], Any]
