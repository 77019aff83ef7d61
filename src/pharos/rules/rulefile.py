"""Prometheus rule files: strict YAML decoding and promtool's validation, with positions.

    groups = load_rule_file("rules.yml")     # raises RuleFileError(.messages) on any problem

Messages read like promtool's: `rules.yml: 5:15: group "g", rule 1, "name": could not parse
expression: ...`. Unknown fields are refused (`yaml: unmarshal errors: line N: field x not found
in type rulefmt.RuleNode`), as Prometheus's strict decoder does. Beyond Prometheus 2.42, groups
accept `query_offset` and `labels` (Prometheus 3.x).

LogQL groups (Loki's ruler format): a group with `source: logs` holds rules whose `expr` is a
LogQL metric query (`sum by (app) (rate({app="api"} |= "error" [5m])) > 1`), evaluated against
the log store of the group's `tenant` (the `X-Scope-OrgID` a Loki ruler would use; default
`fake`, Loki's tenant when auth is off). Loki itself takes the tenant from the rule directory
(`<rules-dir>/<tenant>/*.yml`) and has no marker, since its ruler reads only LogQL; pharos reads
both languages from the same `rule_files`, so the group says which one it is. Everything else
about a group (interval, limit, query_offset, labels, record/alert, templates) is unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pharos.config.units import parse_duration
from pharos.logs.logql import ParseError as LogQLParseError
from pharos.logs.logql import parse as parse_logql
from pharos.logs.logql.ast import LogExpr
from pharos.metrics.promql.engine import parse as parse_promql
from pharos.metrics.promql.values import PromQLError
from pharos.rules.funcs import check_template
from pharos.rules.template import TemplateError
from pharos.storage.logs import InvalidTenantError
from pharos.storage.logs.store import validate_tenant

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_GROUP_KEYS = {"name", "interval", "query_offset", "limit", "labels", "rules", "source", "tenant"}
SOURCE_METRICS, SOURCE_LOGS = "metrics", "logs"
DEFAULT_TENANT = "fake"
_RULE_KEYS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
Pos = tuple[int, int]  # line, column (1-based; 0:0 when absent)


class RuleFileError(Exception):
    """A rule file that does not load; `messages` are promtool-style lines."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("\n".join(messages))
        self.messages = messages


@dataclass
class RuleDef:
    """One rule as written in a file."""

    expr: str
    node: Any
    record: str = ""
    alert: str = ""
    for_s: float = 0.0
    keep_firing_for_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The record or alert name."""
        return self.record or self.alert


@dataclass
class GroupDef:
    """One rule group; `interval_s` 0 means the global evaluation interval."""

    name: str
    file: str
    rules: list[RuleDef]
    interval_s: float = 0.0
    limit: int = 0
    query_offset_s: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    source: str = SOURCE_METRICS  # "logs": LogQL expressions over the log store
    tenant: str = ""  # the log tenant of a `source: logs` group

    @property
    def is_logs(self) -> bool:
        """Whether the group's expressions are LogQL."""
        return self.source == SOURCE_LOGS


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------

@dataclass
class _Raw:
    """A decoded mapping with the position of each key's value (and of the mapping itself)."""

    values: dict[str, Any]
    pos: dict[str, Pos]
    start: Pos


class _Decoder:
    """Strict decoding of the YAML node tree; unmarshal errors are collected as Go's yaml does."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.errors: list[str] = []

    def mapping(self, node: yaml.Node, allowed: set[str], type_name: str) -> _Raw | None:
        if not isinstance(node, yaml.MappingNode):
            self._type_error(node, type_name)
            return None
        raw = _Raw({}, {}, _pos(node))
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key not in allowed:
                self.errors.append(f"line {key_node.start_mark.line + 1}: field {key} not found in type {type_name}")
                continue
            if key in raw.values:
                self.errors.append(
                    f'line {key_node.start_mark.line + 1}: mapping key "{key}" already defined at line '
                    f"{raw.pos[key][0]}"
                )
                continue
            raw.values[key] = value_node
            raw.pos[key] = _pos(value_node)
        return raw

    def _type_error(self, node: yaml.Node, type_name: str) -> None:
        tag = node.tag.rsplit(":", 1)[-1]
        text = f" `{node.value}`" if isinstance(node, yaml.ScalarNode) else ""
        self.errors.append(f"line {node.start_mark.line + 1}: cannot unmarshal !!{tag}{text} into {type_name}")

    def string(self, node: yaml.Node | None) -> str:
        if node is None:
            return ""
        if not isinstance(node, yaml.ScalarNode):
            self._type_error(node, "string")
            return ""
        return "" if node.tag.endswith(":null") else str(node.value)

    def integer(self, node: yaml.Node | None) -> int:
        if node is None:
            return 0
        text = self.string(node)
        try:
            return int(text, 0) if text else 0
        except ValueError:
            self._type_error(node, "int")
            return 0

    def string_map(self, node: yaml.Node | None) -> dict[str, str]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self._type_error(node, "map[string]string")
            return {}
        return {str(k.value): self.string(v) for k, v in node.value}

    def sequence(self, node: yaml.Node | None, type_name: str) -> list[yaml.Node]:
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self._type_error(node, type_name)
            return []
        return list(node.value)


def _pos(node: yaml.Node) -> Pos:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _duration(text: str) -> float:
    """A Prometheus duration in seconds; raises RuleFileError-friendly ValueError."""
    return parse_duration(text) if text else 0.0


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

def load_rule_file(path: str | Path) -> list[GroupDef]:
    """Read, decode and validate one rule file; RuleFileError lists every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleFileError([f"{path}: {getattr(exc, 'strerror', None) or exc}"]) from None
    return parse_rule_text(text, str(path))


def parse_rule_text(text: str, filename: str) -> list[GroupDef]:
    """Decode and validate rule-file text."""
    root = _compose(text, filename)
    if root is None:
        return []
    dec = _Decoder(filename)
    raw_groups = _decode_groups(dec, root)
    if dec.errors:
        raise RuleFileError([f"{filename}: yaml: unmarshal errors:\n  " + "\n  ".join(dec.errors)])
    try:
        groups = [_build_group(dec, raw, filename) for raw in raw_groups]
    except ValueError as exc:
        raise RuleFileError([f"{filename}: {exc}"]) from None
    if dec.errors:
        raise RuleFileError([f"{filename}: yaml: unmarshal errors:\n  " + "\n  ".join(dec.errors)])
    errors = _validate(raw_groups, groups)
    if errors:
        raise RuleFileError([f"{filename}: {e}" for e in errors])
    return groups


def _compose(text: str, filename: str) -> yaml.Node | None:
    loader = _Loader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise RuleFileError([f"{filename}: yaml: line {line}: {exc.problem or exc.context}"]) from None
    except yaml.YAMLError as exc:
        raise RuleFileError([f"{filename}: yaml: {exc}"]) from None
    finally:
        loader.dispose()


@dataclass
class _RawGroup:
    raw: _Raw
    rules: list[_Raw]


def _decode_groups(dec: _Decoder, root: yaml.Node) -> list[_RawGroup]:
    top = dec.mapping(root, {"groups"}, "rulefmt.RuleGroups")
    if top is None:
        return []
    out = []
    for gnode in dec.sequence(top.values.get("groups"), "[]rulefmt.RuleGroup"):
        graw = dec.mapping(gnode, _GROUP_KEYS, "rulefmt.RuleGroup")
        if graw is None:
            continue
        rules = []
        for rnode in dec.sequence(graw.values.get("rules"), "[]rulefmt.RuleNode"):
            rraw = dec.mapping(rnode, _RULE_KEYS, "rulefmt.RuleNode")
            if rraw is not None:
                rules.append(rraw)
        out.append(_RawGroup(graw, rules))
    return out


def _build_group(dec: _Decoder, rg: _RawGroup, filename: str) -> GroupDef:
    v = rg.raw.values
    group = GroupDef(
        name=dec.string(v.get("name")),
        file=filename,
        rules=[],
        interval_s=_duration(dec.string(v.get("interval"))),
        limit=dec.integer(v.get("limit")),
        query_offset_s=_duration(dec.string(v.get("query_offset"))),
        labels=dec.string_map(v.get("labels")),
        source=dec.string(v.get("source")) or SOURCE_METRICS,
        tenant=dec.string(v.get("tenant")),
    )
    if group.is_logs and not group.tenant:
        group.tenant = DEFAULT_TENANT
    for rr in rg.rules:
        rv = rr.values
        group.rules.append(RuleDef(
            expr=dec.string(rv.get("expr")),
            node=None,
            record=dec.string(rv.get("record")),
            alert=dec.string(rv.get("alert")),
            for_s=_duration(dec.string(rv.get("for"))),
            keep_firing_for_s=_duration(dec.string(rv.get("keep_firing_for"))),
            labels=dec.string_map(rv.get("labels")),
            annotations=dec.string_map(rv.get("annotations")),
        ))
    return group


# ---------------------------------------------------------------------------------------------
# Validation (rulefmt.Validate)
# ---------------------------------------------------------------------------------------------

def _validate(raw_groups: list[_RawGroup], groups: list[GroupDef]) -> list[str]:
    errors: list[str] = []
    seen: set[str] = set()
    for rg, g in zip(raw_groups, groups, strict=True):
        at = f"{rg.raw.start[0]}:{rg.raw.start[1]}"
        if not g.name:
            errors.append(f"{at}: Groupname must not be empty")
        elif g.name in seen:
            errors.append(f'{at}: groupname: "{g.name}" is repeated in the same file')
        seen.add(g.name)
        for name in g.labels:
            if not _LABEL_NAME.match(name) or name == "__name__":
                errors.append(f'group "{g.name}": invalid label name: {name}')
        errors += _validate_source(rg.raw, g)
        for i, (rr, rule) in enumerate(zip(rg.rules, g.rules, strict=True), 1):
            errors += _validate_rule(rr, rule, g, i)
    return errors


def _validate_source(raw: _Raw, g: GroupDef) -> list[str]:
    """`source` is metrics or logs; `tenant` only on log groups, and a valid tenant id."""
    def at(key: str) -> str:
        line, col = raw.pos[key]
        return f'{line}:{col}: group "{g.name}": '

    if g.source not in (SOURCE_METRICS, SOURCE_LOGS):
        return [at("source") + f'invalid source "{g.source}" (want "metrics" or "logs")']
    if "tenant" not in raw.pos:
        return []
    if not g.is_logs:
        return [at("tenant") + "tenant is only valid in a group with source: logs"]
    try:
        validate_tenant(g.tenant)
    except InvalidTenantError as exc:
        return [at("tenant") + str(exc)]
    return []


def _validate_rule(rr: _Raw, rule: RuleDef, g: GroupDef, index: int) -> list[str]:
    group = g.name

    def where(*keys: str) -> str:
        positions = [rr.pos.get(k, (0, 0)) for k in keys]
        at = "".join(f"{line}:{col}: " for line, col in positions)
        return f'{at}group "{group}", rule {index}, "{rule.name}": '

    errors: list[str] = []
    name_key = "record" if rule.record else "alert"
    if rule.record and rule.alert:
        errors.append(where("record", "alert") + "only one of 'record' and 'alert' must be set")
    if not rule.record and not rule.alert:
        errors.append(where("record" if "record" in rr.pos else "alert") + "one of 'record' or 'alert' must be set")
    if not rule.expr:
        errors.append(where("expr") + "field 'expr' must be set in rule")
    else:
        problem = _parse_expr(rule, g.is_logs)
        if problem:
            errors.append(where("expr") + f"could not parse expression: {problem}")
    if rule.record:
        errors += _validate_recording(rr, rule, where(name_key))
    errors += _validate_labels(rule, f'group "{group}", rule {index}, "{rule.name}": ')
    return errors


def _parse_expr(rule: RuleDef, logql: bool) -> str:
    """Parse `rule.expr` into `rule.node` (PromQL, or a LogQL metric query); the problem or ""."""
    if logql:
        try:
            node = parse_logql(rule.expr)
        except LogQLParseError as exc:
            return str(exc)
        if isinstance(node, LogExpr):
            return "a rule needs a LogQL metric query, not a log query"
        rule.node = node
        return ""
    try:
        rule.node = parse_promql(rule.expr)
    except PromQLError as exc:
        return str(exc).replace("1:1: parse error: ", "parse error: ")
    return ""


def _validate_recording(rr: _Raw, rule: RuleDef, prefix: str) -> list[str]:
    errors = []
    for key in ("annotations", "for", "keep_firing_for"):
        if key in rr.values:
            errors.append(prefix + f"invalid field '{key}' in recording rule")
    if not _METRIC_NAME.match(rule.record):
        errors.append(prefix + f"invalid recording rule name: {rule.record}")
    return errors


def _validate_labels(rule: RuleDef, prefix: str) -> list[str]:
    """Label and annotation names; templates of alerting rules must parse."""
    errors = []
    for k in rule.labels:
        if not _LABEL_NAME.match(k) or k == "__name__":
            errors.append(prefix + f"invalid label name: {k}")
    for k in rule.annotations:
        if not _LABEL_NAME.match(k):
            errors.append(prefix + f"invalid annotation name: {k}")
    if not rule.alert:
        return errors
    for what, mapping in (("label", rule.labels), ("annotation", rule.annotations)):
        for k, text in mapping.items():
            try:
                check_template(text, f"__alert_{rule.alert}")
            except TemplateError as exc:
                errors.append(prefix + f'{what} "{k}": {exc}')
    return errors


def duplicate_rules(groups: list[GroupDef]) -> list[tuple[str, dict[str, str]]]:
    """(name, labels) of rules appearing more than once in a file, across its groups, each
    reported once, sorted by name then labels (promtool's duplicate-rules lint)."""
    counts = Counter((r.name, tuple(sorted(r.labels.items()))) for g in groups for r in g.rules)
    return [(name, dict(lb)) for (name, lb), n in sorted(counts.items()) if n > 1]
