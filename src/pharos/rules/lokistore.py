"""The ruler store behind Loki's ruler API: LogQL rule groups created over HTTP, per tenant and
namespace, validated as rule files are and kept on disk the way Loki's local rule storage lays
them out — `<root>/<tenant>/<namespace>.yaml`, each a Loki rule file (`groups:` in Loki's
rulefmt, no pharos markers) — so the directory can be handed to a Loki ruler as it is.

No request value becomes a path unescaped: tenants and namespaces are percent-encoded byte by
byte except `[A-Za-z0-9_-]` (so `.`, `/` and `%` never survive, `..` cannot be formed) and group
names live only inside the files. A stored group is a GroupDef of the rule manager (`source:
logs`, `tenant:` the X-Scope-OrgID) whose `file` is its namespace file, so its evaluation slot,
state and metrics key are distinct from every other tenant's and namespace's groups.
"""

from __future__ import annotations

import logging
import os
import re
import string
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from pharos.config.units import format_duration, parse_duration
from pharos.rules.rulefile import SOURCE_LOGS, GroupDef, RuleDef, RuleFileError, parse_rule_text

log = logging.getLogger("pharos.rules")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SAFE = frozenset(string.ascii_letters + string.digits + "_-")
MAX_ENCODED_NAME = 240  # a file name is at most 255 bytes; room for ".yaml" and temp names
SUFFIX = ".yaml"
ERR_BAD_GROUP = "unable to decoded rule group"  # Loki's wording (sic)
_GROUP_KEYS = ("name", "interval", "query_offset", "limit", "labels", "rules")
_RULE_KEYS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")
_DURATION_KEYS = ("interval", "query_offset", "for", "keep_firing_for")
_POSITIONS = re.compile(r"^(?:\d+:\d+: )+")
_UNMARSHAL_LINE = re.compile(r"\n\s*line \d+: ")


class RulerError(Exception):
    """A request the ruler refuses: answered with `status` and the message as plain text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def encode_name(name: str) -> str:
    """A tenant or namespace as one safe file-name component (percent-encoded UTF-8)."""
    return "".join(c if c in _SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in name)


def decode_name(encoded: str) -> str:
    """The inverse of `encode_name`."""
    return unquote(encoded, errors="strict")


class _Dumper(yaml.SafeDumper):
    """Block-style YAML with multi-line strings (LogQL over several lines) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(doc: Any) -> str:
    """YAML as the ruler API answers it (fields in rulefmt's order)."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


# ---------------------------------------------------------------------------------------------
# Groups: request body -> GroupDef -> the stored and returned form
# ---------------------------------------------------------------------------------------------


def decode_group(body: bytes, tenant: str) -> dict[str, Any]:
    """A POSTed rule group (YAML or JSON, Loki's rulefmt.RuleGroup) with its known fields only:
    like Loki's decoder, unknown fields (`remote_write`, ...) are ignored. A `source` other than
    logs, or a `tenant` other than the request's, is refused."""
    try:
        doc = yaml.load(body, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise RulerError(400, f"{ERR_BAD_GROUP}: {exc}".replace("\n", " ")) from None
    if not isinstance(doc, dict):
        raise RulerError(
            400, f"{ERR_BAD_GROUP}: the body must be one rule group (a mapping with name and rules)"
        )
    name = doc.get("name")
    if doc.get("source", SOURCE_LOGS) != SOURCE_LOGS:
        raise RulerError(400, f'group "{name}": source must be "logs": the Loki ruler API holds LogQL rules')
    if str(doc.get("tenant", tenant)) != tenant:
        raise RulerError(
            400,
            f'group "{name}": tenant "{doc["tenant"]}" differs from the request\'s tenant '
            f'"{tenant}" (X-Scope-OrgID decides)',
        )
    group = {k: doc[k] for k in _GROUP_KEYS if k in doc}
    _check_durations(group, f'group "{name}"')
    if isinstance(group.get("rules"), list):
        group["rules"] = [
            {k: r[k] for k in _RULE_KEYS if k in r} if isinstance(r, dict) else r for r in group["rules"]
        ]
        for i, r in enumerate(group["rules"], 1):
            if isinstance(r, dict):
                _check_durations(r, f'group "{name}", rule {i}, "{r.get("record") or r.get("alert") or ""}"')
    return group


def _check_durations(doc: dict[str, Any], where: str) -> None:
    """Durations must be Prometheus durations (`5m`, `1h30m`); RulerError(400) names the field."""
    for key in _DURATION_KEYS:
        if key in doc and doc[key] is not None:
            try:
                parse_duration(str(doc[key]))
            except ValueError as exc:
                raise RulerError(400, f"{where}: invalid {key}: {exc}") from None


def group_defs(groups: list[dict[str, Any]], tenant: str, file: str) -> list[GroupDef]:
    """Validate groups as a rule file of LogQL groups of `tenant`; RulerError(400) names every
    problem by group and rule (positions, which would point into pharos' own text, are left out)."""
    doc = {"groups": [{**g, "source": SOURCE_LOGS, "tenant": tenant} for g in groups]}
    try:
        return parse_rule_text(dump_yaml(doc), file)
    except RuleFileError as exc:
        raise RulerError(400, ", ".join(_clean(m, file) for m in exc.messages)) from None


def _clean(message: str, file: str) -> str:
    text = message.removeprefix(f"{file}: ")
    text = _UNMARSHAL_LINE.sub(" ", text)
    return _POSITIONS.sub("", text)


def _duration(doc: dict[str, Any], key: str, seconds: float) -> None:
    if seconds:
        doc[key] = format_duration(seconds)


def _maps(doc: dict[str, Any], **maps: dict[str, str]) -> None:
    for key, m in maps.items():
        if m:
            doc[key] = dict(sorted(m.items()))


def rule_node(r: RuleDef) -> dict[str, Any]:
    """One rule in Loki's rulefmt (zero durations and empty maps left out, as Go's omitempty)."""
    doc: dict[str, Any] = {"record": r.record} if r.record else {"alert": r.alert}
    doc["expr"] = r.expr
    _duration(doc, "for", r.for_s)
    _duration(doc, "keep_firing_for", r.keep_firing_for_s)
    _maps(doc, labels=r.labels, annotations=r.annotations)
    return doc


def group_node(d: GroupDef) -> dict[str, Any]:
    """A group as Loki's ruler stores and returns it (rulefmt.RuleGroup's field order)."""
    doc: dict[str, Any] = {"name": d.name}
    _duration(doc, "interval", d.interval_s)
    _duration(doc, "query_offset", d.query_offset_s)
    if d.limit:
        doc["limit"] = d.limit
    doc["rules"] = [rule_node(r) for r in d.rules]
    _maps(doc, labels=d.labels)
    return doc


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


class RulerStore:
    """Namespace files under `root`, one directory per tenant."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def file_of(self, tenant: str, namespace: str) -> Path:
        """Where a namespace of a tenant is kept; RulerError(400) for names too long to store."""
        if not namespace:
            raise RulerError(400, "a namespace must be provided in the request")
        parts = [encode_name(tenant), encode_name(namespace)]
        if any(len(p) > MAX_ENCODED_NAME for p in parts):
            raise RulerError(
                400, f"namespace or tenant name too long ({MAX_ENCODED_NAME} bytes encoded at most)"
            )
        return self.root / parts[0] / (parts[1] + SUFFIX)

    def namespace_of(self, file: str) -> tuple[str, str] | None:
        """(tenant, namespace) of a namespace file of this store, else None."""
        p = Path(file)
        if p.parent.parent != self.root or p.suffix != SUFFIX:
            return None
        return decode_name(p.parent.name), decode_name(p.name.removesuffix(SUFFIX))

    def write(self, file: Path, groups: list[GroupDef]) -> None:
        """Replace a namespace file atomically (fsynced); no groups removes it."""
        if not groups:
            file.unlink(missing_ok=True)
            if file.parent.is_dir() and not any(file.parent.iterdir()):
                file.parent.rmdir()
            return
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name("." + file.name + ".tmp")  # encoded names never start with "."
        with tmp.open("w", encoding="utf-8") as f:
            f.write(dump_yaml({"groups": [group_node(d) for d in groups]}))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, file)

    def load(self) -> dict[str, list[GroupDef]]:
        """Every stored namespace: file -> groups. A file that no longer validates is logged and
        left out (and left on disk), so one bad file does not stop the server."""
        out: dict[str, list[GroupDef]] = {}
        if not self.root.is_dir():
            return out
        for file in sorted(self.root.glob(f"*/[!.]*{SUFFIX}")):
            try:
                tenant = decode_name(file.parent.name)
                doc = yaml.load(file.read_bytes(), Loader=_Loader)
                out[str(file)] = group_defs(list((doc or {}).get("groups") or []), tenant, str(file))
            except (OSError, yaml.YAMLError, RulerError, AttributeError, ValueError) as exc:
                log.error("skipping ruler namespace file %s: %s", file, exc)
        return out
