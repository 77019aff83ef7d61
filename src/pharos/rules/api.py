"""`/api/v1/rules` and `/api/v1/alerts` with Prometheus 2.42's JSON."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from pharos.metrics.api.responses import go_time
from pharos.rules.group import Group
from pharos.rules.manager import RuleManager
from pharos.rules.rule import Alert, AlertingRule, AlertState, RecordingRule, Rule
from pharos.rules.template import go_float


def go_float_e(v: float) -> str:
    """strconv.FormatFloat(v, 'e', -1, 64): 1e+00, 1.5e+00, NaN, +Inf."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    sign = "-" if math.copysign(1, v) < 0 else ""
    if v == 0:
        return sign + "0e+00"
    _, digits, exp = Decimal(repr(abs(v))).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e = len(ds) + int(exp) - 1
    body = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    return f"{sign}{body}e{'+' if e >= 0 else '-'}{abs(e):02d}"


_NUMBER = re.compile(r"(?<![\w.\]])(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])")


def query_string(rule: Rule) -> str:
    """The rule's expression as Prometheus prints it (normalised; numbers as Go prints them)."""
    try:
        text = rule.d.node.prettify()
    except Exception:
        return rule.d.expr
    if "\n" in text:
        return rule.d.expr
    parts = re.split(r'("(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`)', text)
    for i in range(0, len(parts), 2):
        parts[i] = _NUMBER.sub(lambda m: go_float(float(m.group(1))), parts[i])
    return "".join(parts)


def go_number(v: float) -> float | int:
    """A JSON number as Go writes a float64 (no `.0`)."""
    return int(v) if math.isfinite(v) and v == int(v) else v


def alert_doc(a: Alert) -> dict[str, Any]:
    """One alert of the API."""
    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "state": str(a.state),
        "activeAt": go_time(a.active_at / 1000),
        "value": go_float_e(a.value),
    }


def active_alerts(rule: AlertingRule) -> list[Alert]:
    """Pending and firing alerts of a rule."""
    return [a for a in rule.active.values() if a.state != AlertState.INACTIVE]


def rule_doc(rule: Rule) -> dict[str, Any]:
    """One rule of /api/v1/rules."""
    st = rule.status
    common = {
        "health": str(st.health),
        **({"lastError": st.last_error} if st.last_error else {}),
        "evaluationTime": st.evaluation_s,
        "lastEvaluation": go_time(st.last_evaluation_ms / 1000),
    }
    if isinstance(rule, RecordingRule):
        labels = {"labels": dict(sorted(rule.labels.items()))} if rule.labels else {}
        return {"name": rule.name, "query": query_string(rule), **labels, **common, "type": "recording"}
    return {
        "state": str(rule.firing_state()),
        "name": rule.name,
        "query": query_string(rule),
        "duration": go_number(rule.hold_ms / 1000),
        "keepFiringFor": go_number(rule.keep_firing_ms / 1000),
        "labels": dict(sorted(rule.labels.items())),
        "annotations": dict(sorted(rule.d.annotations.items())),
        "alerts": [alert_doc(a) for a in active_alerts(rule)],
        **common,
        "type": "alerting",
    }


def group_doc(g: Group, rules: list[Rule]) -> dict[str, Any]:
    """One group of /api/v1/rules."""
    return {
        "name": g.name,
        "file": g.file,
        "rules": [rule_doc(r) for r in rules],
        "interval": go_number(g.interval_ms / 1000),
        "limit": g.d.limit,
        "evaluationTime": g.evaluation_s,
        "lastEvaluation": go_time(g.last_evaluation_ms / 1000),
    }


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(kind: str, message: str, status: int) -> Response:
    return _json({"status": "error", "errorType": kind, "error": message}, status)


def _wanted(rule: Rule, kind: str, names: set[str]) -> bool:
    if kind == "alert" and not isinstance(rule, AlertingRule):
        return False
    if kind == "record" and not isinstance(rule, RecordingRule):
        return False
    return not names or rule.name in names


def select_rules(groups: Iterable[Group], kind: str, names: set[str], group_names: set[str],
                 files: set[str], file_of: Callable[[Group], str] = lambda g: g.file,
                 ) -> list[tuple[Group, list[Rule]]]:
    """The groups and rules a rules query asks for (`kind` "", "alert" or "record"); when any
    name filter is given, groups left without rules are dropped."""
    filtering = bool(names or group_names or files)
    out = []
    for g in groups:
        if (group_names and g.name not in group_names) or (files and file_of(g) not in files):
            continue
        rules = [r for r in g.rules if _wanted(r, kind, names)]
        if filtering and not rules:
            continue
        out.append((g, rules))
    return out


def rules_payload(mgr: RuleManager, params: dict[str, list[str]]) -> dict[str, Any] | str:
    """The `data` of /api/v1/rules, or an error message for bad parameters."""
    kind = (params.get("type") or [""])[0].lower()
    if kind not in ("", "alert", "record"):
        return f"unsupported type {kind!r}"
    chosen = select_rules(mgr.sorted_groups(), kind, set(params.get("rule_name[]", [])),
                          set(params.get("rule_group[]", [])), set(params.get("file[]", [])))
    return {"groups": [group_doc(g, rules) for g, rules in chosen]}


def alerts_payload(mgr: RuleManager) -> dict[str, Any]:
    """The `data` of /api/v1/alerts."""
    alerts = [
        alert_doc(a)
        for g in mgr.sorted_groups()
        for r in g.rules
        if isinstance(r, AlertingRule)
        for a in active_alerts(r)
    ]
    return {"alerts": alerts}


async def _params(request: Request) -> dict[str, list[str]]:
    params: dict[str, list[str]] = {}
    for k, v in request.query_params.multi_items():
        params.setdefault(k, []).append(v)
    if request.method == "POST":
        form = await request.form()
        for k, fv in form.multi_items():
            params.setdefault(k, []).append(str(fv))
    return params


def rules_router(get_manager: Callable[[], RuleManager | None]) -> APIRouter:
    """Routes answering 503 until the manager exists."""
    router = APIRouter()

    async def rules(request: Request) -> Response:
        mgr = get_manager()
        if mgr is None:
            return _error("unavailable", "rule manager is not ready", 503)
        data = rules_payload(mgr, await _params(request))
        if isinstance(data, str):
            return _error("bad_data", data, 400)
        return _json({"status": "success", "data": data})

    async def alerts(request: Request) -> Response:
        mgr = get_manager()
        if mgr is None:
            return _error("unavailable", "rule manager is not ready", 503)
        return _json({"status": "success", "data": alerts_payload(mgr)})

    router.add_api_route("/api/v1/rules", rules, methods=["GET", "POST"])
    router.add_api_route("/api/v1/alerts", alerts, methods=["GET", "POST"])
    return router
