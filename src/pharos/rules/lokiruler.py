"""Loki's ruler HTTP API (Loki 3.x), for LogQL rule groups per tenant (`X-Scope-OrgID`).

    GET    /loki/api/v1/rules                        all namespaces: YAML {namespace: [group, ...]}
                                                     (`?labels=name:value,...` keeps the rules
                                                     carrying one of those labels)
    GET    /loki/api/v1/rules/{namespace}            one namespace, same shape
    GET    /loki/api/v1/rules/{namespace}/{group}    one group (YAML rulefmt.RuleGroup)
    POST   /loki/api/v1/rules/{namespace}            create or replace a group (YAML or JSON body): 202
    DELETE /loki/api/v1/rules/{namespace}/{group}    202
    DELETE /loki/api/v1/rules/{namespace}            202
    GET    /prometheus/api/v1/rules, /prometheus/api/v1/alerts   Prometheus-format JSON of the
           tenant's log rules (the paths Grafana's Loki data source reads)

`/api/prom/rules...` (the legacy paths Grafana's ruler proxy uses) answer the same. As Loki
answers: YAML is `application/yaml`; an empty listing is 404 `no rule groups found`; a missing
group 404 `group does not exist`, a missing namespace 404 `group namespace does not exist`;
writes answer 202 with `{"status":"success",...}`; a body that does not decode is 400 `unable
to decoded rule group`; validation problems are 400, plain text, joined by ", " — here each
names its group and rule. Namespaces and group names are taken from the raw request path and
percent-decoded per segment, so `lokitool`'s `url.PathEscape`d names may hold `/`.

Groups created here live in the ruler store (`pharos.rules.lokistore`, under the data
directory) and run in the same rule manager as `rule_files` groups marked `source: logs`: same
evaluation, alerts to the same Alertmanagers, recording results into the TSDB. Groups from rule
files are not part of the ruler store: the YAML endpoints neither list nor change them, and a
group posted here may not take the name of a rule-file log group of the same tenant (400). Both
kinds appear in the Prometheus-format views (`file` is the namespace, or the rule file's path).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from pharos.logs.api import HTTPError, tenant_of
from pharos.metrics.api.responses import go_time
from pharos.rules.api import active_alerts, alert_doc, go_number, select_rules
from pharos.rules.group import Group, GroupOptions
from pharos.rules.lokistore import RulerError, RulerStore, decode_group, dump_yaml, group_defs, group_node
from pharos.rules.manager import RuleManager
from pharos.rules.rule import AlertingRule, RecordingRule, Rule
from pharos.rules.rulefile import GroupDef

RULES_PREFIXES = ("/loki/api/v1/rules", "/api/prom/rules")
NO_GROUPS = "no rule groups found"
NO_GROUP = "group does not exist"
NO_NAMESPACE = "group namespace does not exist"


class LokiRuler:
    """The ruler store wired to the rule manager: API writes replace the groups of one namespace
    file in the manager (a scoped update), and reloads run them with the rule-file groups."""

    def __init__(self) -> None:
        self.store: RulerStore | None = None
        self.manager: RuleManager | None = None
        self.opts = GroupOptions()
        self.file_defs: list[GroupDef] = []  # the `rule_files` groups, for the name check
        self.api_defs: dict[str, list[GroupDef]] = {}  # namespace file -> its groups
        self.lock = asyncio.Lock()  # API writes and config reloads, one at a time

    def open(self, root: Path) -> None:
        """Load the stored namespaces (before the manager's first update)."""
        self.store = RulerStore(root)
        self.api_defs = self.store.load()

    def all_defs(self) -> list[GroupDef]:
        """Every group of the ruler store."""
        return [d for defs in self.api_defs.values() for d in defs]

    # -- reads -------------------------------------------------------------------------------
    def namespaces(self, tenant: str, only: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """{namespace: [group, ...]} of a tenant, sorted by namespace then group name."""
        store = self._store()
        out: dict[str, list[dict[str, Any]]] = {}
        for file, defs in self.api_defs.items():
            found = store.namespace_of(file)
            if found is not None and found[0] == tenant and only in (None, found[1]):
                out[found[1]] = [group_node(d) for d in sorted(defs, key=lambda d: d.name)]
        return dict(sorted(out.items()))

    def log_groups(self, tenant: str) -> list[Group]:
        """The tenant's running LogQL groups (ruler store and rule files)."""
        if self.manager is None:
            raise RulerError(503, "the ruler is not ready")
        return [g for g in self.manager.sorted_groups() if g.d.is_logs and g.d.tenant == tenant]

    def file_label(self, g: Group) -> str:
        """A group's `file` in the Prometheus-format views: its namespace, or its rule file."""
        found = self._store().namespace_of(g.file)
        return found[1] if found is not None else g.file

    # -- writes ------------------------------------------------------------------------------
    async def set_group(self, tenant: str, namespace: str, body: bytes) -> None:
        """Create or replace a group of a namespace (as Loki's CreateRuleGroup)."""
        raw = decode_group(body, tenant)
        async with self.lock:
            file = str(self._store().file_of(tenant, namespace))
            (new,) = group_defs([raw], tenant, file)
            self._check_name(tenant, new.name)
            kept = [group_node(d) for d in self.api_defs.get(file, []) if d.name != new.name]
            await self._replace(tenant, file, [*kept, group_node(new)])

    async def delete_group(self, tenant: str, namespace: str, name: str) -> None:
        """Remove one group; RulerError(404) when it does not exist."""
        async with self.lock:
            file = str(self._store().file_of(tenant, namespace))
            defs = self.api_defs.get(file, [])
            if all(d.name != name for d in defs):
                raise RulerError(404, NO_GROUP)
            await self._replace(tenant, file, [group_node(d) for d in defs if d.name != name])

    async def delete_namespace(self, tenant: str, namespace: str) -> None:
        """Remove every group of a namespace; RulerError(404) when it has none."""
        async with self.lock:
            file = str(self._store().file_of(tenant, namespace))
            if file not in self.api_defs:
                raise RulerError(404, NO_NAMESPACE)
            await self._replace(tenant, file, [])

    def _check_name(self, tenant: str, name: str) -> None:
        for d in self.file_defs:
            if d.is_logs and d.tenant == tenant and d.name == name:
                raise RulerError(
                    400,
                    f'group "{name}": a log rule group of this name is already defined in the '
                    f"rule file {d.file}, which is read-only here (edit the file and reload)",
                )

    async def _replace(self, tenant: str, file: str, groups: list[dict[str, Any]]) -> None:
        if self.manager is None:
            raise RulerError(503, "the ruler is not ready")
        defs = group_defs(sorted(groups, key=lambda g: g["name"]), tenant, file)
        try:
            await asyncio.to_thread(self._store().write, Path(file), defs)
        except OSError as exc:
            raise RulerError(500, f"unable to store the rule groups: {exc}") from None
        if defs:
            self.api_defs[file] = defs
        else:
            self.api_defs.pop(file, None)
        await self.manager.update(defs, self.opts, scope=lambda key: key[0] == file)

    def _store(self) -> RulerStore:
        if self.store is None:
            raise RulerError(503, "the ruler is not ready")
        return self.store


# ---------------------------------------------------------------------------------------------
# Prometheus-format views (Loki's PrometheusRules / PrometheusAlerts)
# ---------------------------------------------------------------------------------------------


def _rule_json(rule: Rule) -> dict[str, Any]:
    """One rule as Loki's ruler API writes it (raw expression; lastError always present)."""
    st = rule.status
    kind = "recording" if isinstance(rule, RecordingRule) else "alerting"
    tail = {
        "health": str(st.health),
        "lastError": st.last_error,
        "type": kind,
        "lastEvaluation": go_time(st.last_evaluation_ms / 1000),
        "evaluationTime": go_number(st.evaluation_s),
    }
    labels = dict(sorted(rule.labels.items()))
    if not isinstance(rule, AlertingRule):
        return {"name": rule.name, "query": rule.d.expr, "labels": labels, **tail}
    return {
        "state": str(rule.firing_state()),
        "name": rule.name,
        "query": rule.d.expr,
        "duration": go_number(rule.hold_ms / 1000),
        "labels": labels,
        "annotations": dict(sorted(rule.d.annotations.items())),
        "alerts": [alert_doc(a) for a in active_alerts(rule)],
        **tail,
    }


def _param(params: dict[str, list[str]], name: str) -> set[str]:
    """A list parameter, given as `name` (Loki) or `name[]` (Prometheus)."""
    return {*params.get(name, []), *params.get(name + "[]", [])}


def prometheus_rules(ruler: LokiRuler, tenant: str, params: dict[str, list[str]]) -> dict[str, Any]:
    """The `data` of /prometheus/api/v1/rules; RulerError(400) for an unknown `type`."""
    kind = (params.get("type") or [""])[0].lower()
    if kind not in ("", "alert", "record"):
        raise RulerError(400, f'not supported value "{kind}"')
    chosen = select_rules(
        ruler.log_groups(tenant),
        kind,
        _param(params, "rule_name"),
        _param(params, "rule_group"),
        _param(params, "file"),
        ruler.file_label,
    )
    groups = [
        {
            "name": g.name,
            "file": ruler.file_label(g),
            "rules": [_rule_json(r) for r in rules],
            "interval": go_number(g.interval_ms / 1000),
            "limit": g.d.limit,
            "lastEvaluation": go_time(g.last_evaluation_ms / 1000),
            "evaluationTime": go_number(g.evaluation_s),
        }
        for g, rules in chosen
        if rules
    ]  # as Loki, a group left without rules is not listed
    groups.sort(key=lambda doc: (doc["file"], doc["name"]))
    return {"groups": groups}


def prometheus_alerts(ruler: LokiRuler, tenant: str) -> dict[str, Any]:
    """The `data` of /prometheus/api/v1/alerts: the tenant's pending and firing log alerts."""
    return {
        "alerts": [
            alert_doc(a)
            for g in ruler.log_groups(tenant)
            for r in g.rules
            if isinstance(r, AlertingRule)
            for a in active_alerts(r)
        ]
    }


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------


def _envelope(data: Any, status: int = 200, error_type: str = "", error: str = "") -> Response:
    """Loki's JSON response struct (no omitempty: errorType and error are always there)."""
    doc = {"status": "error" if error else "success", "data": data, "errorType": error_type, "error": error}
    return Response(orjson.dumps(doc), status, media_type="application/json")


def _text(status: int, message: str) -> PlainTextResponse:
    return PlainTextResponse(message + "\n", status)


def _yaml(doc: Any) -> Response:
    return Response(dump_yaml(doc), 200, media_type="application/yaml")


def path_names(request: Request, prefix: str) -> list[str]:
    """The `/`-separated names after `prefix` in the raw (still escaped) request path, each
    percent-decoded, so an escaped `/` stays inside its name; RulerError(400) for bad escapes."""
    raw = (request.scope.get("raw_path") or request.url.path.encode()).split(b"?", 1)[0].decode("latin-1")
    rest = (
        raw[len(prefix) :].strip("/")
        if raw.startswith(prefix)
        else request.url.path[len(prefix) :].strip("/")
    )
    try:
        return [unquote(part, errors="strict") for part in rest.split("/")] if rest else []
    except UnicodeDecodeError:
        raise RulerError(400, "the request path is not valid percent-encoded UTF-8") from None


async def _rules_call(ruler: LokiRuler, request: Request, prefix: str) -> Response:
    """Dispatch one call of the YAML rules API."""
    names = path_names(request, prefix)
    tenant = tenant_of(request.headers)
    method = request.method
    if len(names) > 2 or (method == "POST" and len(names) != 1) or (method == "DELETE" and not names):
        return _text(405 if len(names) <= 2 else 404, f"{method} is not supported on this path")
    if any(not n for n in names):
        raise RulerError(400, "a namespace and group name must not be empty")
    if method == "POST":
        await ruler.set_group(tenant, names[0], await request.body())
        return _envelope(None, 202)
    if method == "DELETE":
        if len(names) == 2:
            await ruler.delete_group(tenant, *names)
        else:
            await ruler.delete_namespace(tenant, names[0])
        return _envelope(None, 202)
    listing = ruler.namespaces(tenant, names[0] if names else None)
    if len(names) < 2:
        wanted = label_pairs(request.query_params.get("labels", ""))
        return (
            _yaml(with_labels(listing, wanted) if wanted else listing) if listing else _text(404, NO_GROUPS)
        )
    found = [g for g in listing.get(names[0], []) if g["name"] == names[1]]
    return _yaml(found[0]) if found else _text(404, NO_GROUP)


def label_pairs(text: str) -> set[tuple[str, str]]:
    """Loki's `labels` parameter of the rule listing: `name:value,name:value`."""
    pairs = set()
    for item in filter(None, text.split(",")):
        name, sep, value = item.partition(":")
        if not sep:
            raise RulerError(
                400, f'invalid labels parameter "{text}": want name:value pairs separated by ","'
            )
        pairs.add((name, value))
    return pairs


def with_labels(listing: dict[str, list[dict[str, Any]]], wanted: set[tuple[str, str]]) -> dict[str, Any]:
    """The listing cut to rules carrying one of the `wanted` labels (groups left empty dropped)."""
    out: dict[str, Any] = {}
    for namespace, groups in listing.items():
        kept = []
        for g in groups:
            rules = [r for r in g["rules"] if wanted & set(r.get("labels", {}).items())]
            if rules:
                kept.append({**g, "rules": rules})
        if kept:
            out[namespace] = kept
    return out


def _rules_handler(ruler: LokiRuler, prefix: str) -> Callable[[Request], Any]:
    async def rules(request: Request) -> Response:
        return await _rules_call(ruler, request, prefix)

    return rules


def _guard(call: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Turn RulerError / HTTPError into Loki's plain-text error answers."""

    async def handler(request: Request) -> Response:
        try:
            response: Response = await call(request)
        except (RulerError, HTTPError) as exc:
            return _text(exc.status, exc.message)
        return response

    return handler


def loki_ruler_router(ruler: LokiRuler) -> APIRouter:
    """The ruler routes: YAML rule management and the Prometheus-format views."""
    router = APIRouter()
    for prefix in RULES_PREFIXES:
        for path in (prefix, prefix + "/{rest:path}"):
            router.add_api_route(
                path,
                _guard(_rules_handler(ruler, prefix)),
                methods=["GET", "POST", "DELETE"],
                tags=["loki ruler"],
            )

    async def prom_rules(request: Request) -> Response:
        params: dict[str, list[str]] = {}
        for k, v in request.query_params.multi_items():
            params.setdefault(k, []).append(v)
        try:
            data = prometheus_rules(ruler, tenant_of(request.headers), params)
        except RulerError as exc:
            return _envelope(
                None, exc.status, "bad_data" if exc.status == 400 else "unavailable", exc.message
            )
        return _envelope(data)

    async def prom_alerts(request: Request) -> Response:
        return _envelope(prometheus_alerts(ruler, tenant_of(request.headers)))

    router.add_api_route("/prometheus/api/v1/rules", _guard(prom_rules), methods=["GET"], tags=["loki ruler"])
    router.add_api_route(
        "/prometheus/api/v1/alerts", _guard(prom_alerts), methods=["GET"], tags=["loki ruler"]
    )
    return router
