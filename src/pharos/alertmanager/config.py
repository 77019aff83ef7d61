"""alertmanager.yml (or pharos.yml's `alertmanager:` section) -> AMConfig, with file:line errors.

    cfg = load_file("alertmanager.yml")          # raises ConfigError (file:line: key: reason)
    cfg = parse_text(text, filename, section=())  # the same from text (section: key path inside)

Semantics are Alertmanager 0.25's: defaults from `global`, route options inherited by child
routes, legacy `match`/`match_re` folded into matchers, every receiver and time interval a route
names must exist. Fields pharos does not support become warnings.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pharos.alertmanager.matchers import EQ, RE, Matcher, MatcherError, parse_matchers, sort_matchers
from pharos.alertmanager.timeinterval import IntervalError, TimeInterval, parse_interval
from pharos.config.loader import ConfigError, _compose, _Doc
from pharos.config.units import parse_duration

KeyPath = tuple[str | int, ...]
DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
SUPPORTED_RECEIVERS = ("webhook_configs", "slack_configs", "email_configs", "pagerduty_configs")
UNSUPPORTED_RECEIVERS = (
    "opsgenie_configs", "wechat_configs", "pushover_configs", "victorops_configs", "sns_configs",
    "telegram_configs", "webex_configs", "discord_configs", "msteams_configs",
)


@dataclass
class GlobalConfig:
    """`global:` defaults."""

    resolve_timeout: float = 300.0
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: str = ""
    smtp_auth_username: str = ""
    smtp_auth_password: str = ""
    smtp_auth_identity: str = ""
    smtp_auth_secret: str = ""
    smtp_require_tls: bool = True
    slack_api_url: str = ""
    pagerduty_url: str = DEFAULT_PAGERDUTY_URL
    http_config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Integration:
    """One `*_configs` entry of a receiver: kind (webhook, slack, email, pagerduty) and settings."""

    kind: str
    index: int
    send_resolved: bool
    settings: dict[str, Any]


@dataclass
class Receiver:
    """A named receiver and its integrations."""

    name: str
    integrations: list[Integration] = field(default_factory=list)


@dataclass
class RouteConfig:
    """A route node with options already inherited from its parent."""

    receiver: str
    matchers: list[Matcher] = field(default_factory=list)
    group_by: list[str] = field(default_factory=list)
    group_by_all: bool = False
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    continue_: bool = False
    mute_time_intervals: list[str] = field(default_factory=list)
    active_time_intervals: list[str] = field(default_factory=list)
    routes: list[RouteConfig] = field(default_factory=list)


@dataclass
class InhibitRule:
    """Mute targets while a source alert with equal `equal` labels fires."""

    source: list[Matcher]
    target: list[Matcher]
    equal: list[str]


@dataclass
class AMConfig:
    """A validated Alertmanager configuration."""

    global_: GlobalConfig
    route: RouteConfig
    receivers: dict[str, Receiver]
    inhibit_rules: list[InhibitRule] = field(default_factory=list)
    time_intervals: dict[str, list[TimeInterval]] = field(default_factory=dict)
    templates: list[str] = field(default_factory=list)
    original: str = ""
    warnings: list[str] = field(default_factory=list)


DEFAULT_YAML = "route:\n  receiver: default\nreceivers:\n  - name: default\n"


class _Ctx:
    """Error and warning reporting for one document (paths are inside the alertmanager body)."""

    def __init__(self, doc: _Doc, section: KeyPath) -> None:
        self.doc = doc
        self.section = section
        self.warnings: list[str] = []

    def fail(self, path: KeyPath, text: str) -> ConfigError:
        """A ConfigError located at `path`."""
        return ConfigError([self.doc.message((*self.section, *path), text)], self.warnings)

    def warn(self, path: KeyPath, text: str) -> None:
        """Record a located warning."""
        self.warnings.append(self.doc.message((*self.section, *path), text))

    def known(self, raw: dict[str, Any], path: KeyPath, keys: set[str]) -> None:
        """Warn about keys pharos does not support."""
        for key in raw:
            if key not in keys:
                self.warn((*path, key), "not supported by pharos, ignored")


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

def load_file(path: str | os.PathLike[str]) -> AMConfig:
    """Read and validate an alertmanager.yml; ConfigError names file, line and reason."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{p}: cannot read alertmanager config: {exc}"]) from None
    return parse_text(text, str(path), base_dir=p.resolve().parent)


def parse_text(
    text: str, filename: str = "alertmanager.yml", section: KeyPath = (), base_dir: Path | None = None
) -> AMConfig:
    """Validate alertmanager config text; `section` is the key path of the body inside the file."""
    doc = _compose(text, filename)
    data: Any = doc.data
    for key in section:
        data = data.get(key) if isinstance(data, dict) else None
    ctx = _Ctx(doc, section)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ctx.fail((), "the alertmanager configuration must be a mapping")
    cfg = _build(ctx, data, base_dir or Path.cwd())
    cfg.original = text if not section else _dump(data)
    cfg.warnings = ctx.warnings
    return cfg


def default_config() -> AMConfig:
    """The configuration used when none is given: one receiver without integrations."""
    return parse_text(DEFAULT_YAML, "<built-in alertmanager config>")


def _dump(data: dict[str, Any]) -> str:
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False))


def _build(ctx: _Ctx, data: dict[str, Any], base_dir: Path) -> AMConfig:
    ctx.known(data, (), {"global", "route", "receivers", "inhibit_rules", "time_intervals",
                         "mute_time_intervals", "templates"})
    glob_cfg = _global(ctx, _mapping(ctx, data, "global", ()))
    receivers = _receivers(ctx, data.get("receivers") or [], glob_cfg)
    intervals = _time_intervals(ctx, data)
    if not isinstance(data.get("route"), dict):
        raise ctx.fail(("route",), "no routes provided")
    route = _root_route(ctx, data["route"])
    _check_route_refs(ctx, route, data["route"], ("route",), receivers, intervals)
    inhibit = [_inhibit_rule(ctx, r, ("inhibit_rules", i))
               for i, r in enumerate(_list(ctx, data, "inhibit_rules", ()))]
    templates = _templates(ctx, data, base_dir)
    return AMConfig(glob_cfg, route, receivers, inhibit, intervals, templates)


# ---------------------------------------------------------------------------------------------
# Small typed getters
# ---------------------------------------------------------------------------------------------

def _mapping(ctx: _Ctx, raw: dict[str, Any], key: str, path: KeyPath) -> dict[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.fail((*path, key), "must be a mapping")
    return value


def _list(ctx: _Ctx, raw: dict[str, Any], key: str, path: KeyPath) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.fail((*path, key), "must be a list")
    return value


def _str(ctx: _Ctx, raw: dict[str, Any], key: str, path: KeyPath, default: str = "") -> str:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, dict | list):
        raise ctx.fail((*path, key), "must be a string")
    return str(value)


def _bool(ctx: _Ctx, raw: dict[str, Any], key: str, path: KeyPath, default: bool) -> bool:
    value = raw.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ctx.fail((*path, key), f"cannot unmarshal {value!r} into a boolean")
    return value


def _duration(ctx: _Ctx, raw: dict[str, Any], key: str, path: KeyPath, default: float) -> float:
    value = raw.get(key)
    if value is None:
        return default
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise ctx.fail((*path, key), str(exc)) from None


def _url(ctx: _Ctx, raw: dict[str, Any], key: str, path: KeyPath, default: str = "") -> str:
    value = _str(ctx, raw, key, path, default)
    if value and not value.startswith(("http://", "https://")):
        raise ctx.fail((*path, key), f"unsupported scheme in URL {value!r}")
    return value


# ---------------------------------------------------------------------------------------------
# global and receivers
# ---------------------------------------------------------------------------------------------

_GLOBAL_STRINGS = ("smtp_from", "smtp_hello", "smtp_smarthost", "smtp_auth_username",
                   "smtp_auth_password", "smtp_auth_identity", "smtp_auth_secret")


def _global(ctx: _Ctx, raw: dict[str, Any]) -> GlobalConfig:
    path: KeyPath = ("global",)
    g = GlobalConfig()
    ctx.known(raw, path, {*_GLOBAL_STRINGS, "resolve_timeout", "smtp_require_tls", "slack_api_url",
                          "pagerduty_url", "http_config"})
    g.resolve_timeout = _duration(ctx, raw, "resolve_timeout", path, g.resolve_timeout)
    for key in _GLOBAL_STRINGS:
        setattr(g, key, _str(ctx, raw, key, path, getattr(g, key)))
    g.smtp_require_tls = _bool(ctx, raw, "smtp_require_tls", path, True)
    g.slack_api_url = _url(ctx, raw, "slack_api_url", path)
    g.pagerduty_url = _url(ctx, raw, "pagerduty_url", path, DEFAULT_PAGERDUTY_URL)
    g.http_config = _mapping(ctx, raw, "http_config", path)
    return g


def _receivers(ctx: _Ctx, raw: Any, g: GlobalConfig) -> dict[str, Receiver]:
    if not isinstance(raw, list):
        raise ctx.fail(("receivers",), "must be a list")
    out: dict[str, Receiver] = {}
    for i, item in enumerate(raw):
        path: KeyPath = ("receivers", i)
        if not isinstance(item, dict):
            raise ctx.fail(path, "receiver must be a mapping")
        name = _str(ctx, item, "name", path)
        if not name:
            raise ctx.fail((*path, "name"), "missing name in receiver")
        if name in out:
            raise ctx.fail((*path, "name"), f'notification config name "{name}" is not unique')
        ctx.known(item, path, {"name", *SUPPORTED_RECEIVERS, *UNSUPPORTED_RECEIVERS})
        out[name] = Receiver(name, _integrations(ctx, item, path, g))
    return out


def _integrations(ctx: _Ctx, item: dict[str, Any], path: KeyPath, g: GlobalConfig) -> list[Integration]:
    found = []
    for kind_key in SUPPORTED_RECEIVERS:
        kind = kind_key.removesuffix("_configs")
        for j, conf in enumerate(_list(ctx, item, kind_key, path)):
            cpath = (*path, kind_key, j)
            if not isinstance(conf, dict):
                raise ctx.fail(cpath, "must be a mapping")
            found.append(_BUILDERS[kind](ctx, conf, cpath, g, j))
    return found


def _webhook(ctx: _Ctx, c: dict[str, Any], path: KeyPath, g: GlobalConfig, j: int) -> Integration:
    ctx.known(c, path, {"url", "url_file", "send_resolved", "max_alerts", "http_config"})
    url = _url(ctx, c, "url", path)
    if not url and not c.get("url_file"):
        raise ctx.fail(path, "one of url or url_file must be configured")
    max_alerts = c.get("max_alerts") or 0
    if not isinstance(max_alerts, int) or max_alerts < 0:
        raise ctx.fail((*path, "max_alerts"), "must be a non-negative integer")
    settings = {"url": url, "url_file": c.get("url_file") or "", "max_alerts": max_alerts,
                "http_config": c.get("http_config") or g.http_config}
    return Integration("webhook", j, _bool(ctx, c, "send_resolved", path, True), settings)


_SLACK_KEYS = ("channel", "username", "color", "title", "title_link", "pretext", "text", "footer",
               "fallback", "callback_id", "icon_emoji", "icon_url", "image_url", "thumb_url")


def _slack(ctx: _Ctx, c: dict[str, Any], path: KeyPath, g: GlobalConfig, j: int) -> Integration:
    ctx.known(c, path, {*_SLACK_KEYS, "api_url", "api_url_file", "send_resolved", "link_names",
                        "short_fields", "mrkdwn_in", "fields", "actions", "http_config"})
    api_url = _url(ctx, c, "api_url", path) or g.slack_api_url
    if not api_url and not c.get("api_url_file"):
        raise ctx.fail(path, "no global Slack API URL set")
    settings: dict[str, Any] = {k: _str(ctx, c, k, path) for k in _SLACK_KEYS if k in c}
    settings.update(api_url=api_url, api_url_file=c.get("api_url_file") or "",
                    link_names=_bool(ctx, c, "link_names", path, False),
                    short_fields=_bool(ctx, c, "short_fields", path, False),
                    mrkdwn_in=c.get("mrkdwn_in"), fields=c.get("fields") or [],
                    http_config=c.get("http_config") or g.http_config)
    return Integration("slack", j, _bool(ctx, c, "send_resolved", path, False), settings)


_EMAIL_KEYS = ("to", "from", "hello", "smarthost", "auth_username", "auth_password",
               "auth_identity", "auth_secret", "html", "text")


def _email(ctx: _Ctx, c: dict[str, Any], path: KeyPath, g: GlobalConfig, j: int) -> Integration:
    ctx.known(c, path, {*_EMAIL_KEYS, "send_resolved", "require_tls", "headers", "tls_config",
                        "auth_password_file"})
    s: dict[str, Any] = {k: _str(ctx, c, k, path) for k in _EMAIL_KEYS}
    if not s["to"]:
        raise ctx.fail(path, "missing to address in email config")
    s["from"] = s["from"] or g.smtp_from
    s["smarthost"] = s["smarthost"] or g.smtp_smarthost
    s["hello"] = s["hello"] or g.smtp_hello
    for key in ("auth_username", "auth_password", "auth_identity", "auth_secret"):
        s[key] = s[key] or getattr(g, f"smtp_{key}")
    if not s["smarthost"]:
        raise ctx.fail(path, "no global SMTP smarthost set")
    if not s["from"]:
        raise ctx.fail(path, "no global SMTP from set")
    _, sep, port = s["smarthost"].rpartition(":")
    if not sep or not port.isdigit():
        raise ctx.fail((*path, "smarthost"), f"address {s['smarthost']}: missing port in address")
    s["require_tls"] = _bool(ctx, c, "require_tls", path, g.smtp_require_tls)
    headers = _mapping(ctx, c, "headers", path)
    s["headers"] = {str(k).title(): str(v) for k, v in headers.items()}
    s["tls_config"] = _mapping(ctx, c, "tls_config", path)
    return Integration("email", j, _bool(ctx, c, "send_resolved", path, False), s)


_PD_KEYS = ("routing_key", "service_key", "client", "client_url", "description", "severity",
            "class", "component", "group")


def _pagerduty(ctx: _Ctx, c: dict[str, Any], path: KeyPath, g: GlobalConfig, j: int) -> Integration:
    ctx.known(c, path, {*_PD_KEYS, "url", "send_resolved", "details", "images", "links",
                        "http_config", "routing_key_file", "service_key_file"})
    s: dict[str, Any] = {k: _str(ctx, c, k, path) for k in _PD_KEYS if k in c}
    if not s.get("routing_key") and not s.get("service_key"):
        raise ctx.fail(path, "missing service or routing key in PagerDuty config")
    s["url"] = _url(ctx, c, "url", path) or g.pagerduty_url
    s["details"] = {str(k): str(v) for k, v in _mapping(ctx, c, "details", path).items()}
    s["http_config"] = c.get("http_config") or g.http_config
    return Integration("pagerduty", j, _bool(ctx, c, "send_resolved", path, True), s)


_BUILDERS = {"webhook": _webhook, "slack": _slack, "email": _email, "pagerduty": _pagerduty}


# ---------------------------------------------------------------------------------------------
# time intervals, matchers, routes, inhibition, templates
# ---------------------------------------------------------------------------------------------

def _time_intervals(ctx: _Ctx, data: dict[str, Any]) -> dict[str, list[TimeInterval]]:
    out: dict[str, list[TimeInterval]] = {}
    for key in ("mute_time_intervals", "time_intervals"):
        for i, item in enumerate(_list(ctx, data, key, ())):
            path: KeyPath = (key, i)
            if not isinstance(item, dict) or not item.get("name"):
                raise ctx.fail(path, "missing name in time interval")
            name = str(item["name"])
            if name in out:
                raise ctx.fail((*path, "name"), f'time interval "{name}" is not unique')
            out[name] = _intervals(ctx, item, path)
    return out


def _intervals(ctx: _Ctx, item: dict[str, Any], path: KeyPath) -> list[TimeInterval]:
    parsed = []
    for j, raw in enumerate(_list(ctx, item, "time_intervals", path)):
        try:
            parsed.append(parse_interval(raw))
        except IntervalError as exc:
            raise ctx.fail((*path, "time_intervals", j, *exc.path), str(exc)) from None
    return parsed


def _matchers(ctx: _Ctx, raw: dict[str, Any], prefix: str, path: KeyPath) -> list[Matcher]:
    """`{prefix}match`, `{prefix}match_re` and `{prefix}matchers` as one matcher list."""
    out: list[Matcher] = []
    try:
        for name, value in _mapping(ctx, raw, f"{prefix}match", path).items():
            out.append(Matcher.make(str(name), EQ, str(value)))
        for name, value in _mapping(ctx, raw, f"{prefix}match_re", path).items():
            out.append(Matcher.make(str(name), RE, f"^(?:{value})$"))
    except MatcherError as exc:
        raise ctx.fail((*path, f"{prefix}match_re"), str(exc)) from None
    for i, text in enumerate(_list(ctx, raw, f"{prefix}matchers", path)):
        try:
            out += parse_matchers(str(text))
        except MatcherError as exc:
            raise ctx.fail((*path, f"{prefix}matchers", i), str(exc)) from None
    return out


_ROUTE_KEYS = {"receiver", "group_by", "match", "match_re", "matchers", "continue", "routes",
               "group_wait", "group_interval", "repeat_interval", "mute_time_intervals",
               "active_time_intervals"}


def _root_route(ctx: _Ctx, raw: dict[str, Any]) -> RouteConfig:
    path: KeyPath = ("route",)
    if not raw.get("receiver"):
        raise ctx.fail(path, "root route must specify a default receiver")
    if raw.get("match") or raw.get("match_re") or raw.get("matchers"):
        raise ctx.fail(path, "root route must not have any matchers")
    if raw.get("continue"):
        raise ctx.fail((*path, "continue"), "cannot have continue in root route")
    if raw.get("mute_time_intervals") or raw.get("active_time_intervals"):
        raise ctx.fail(path, "root route must not have any mute time intervals")
    return _route(ctx, raw, path, RouteConfig(receiver=""))


def _route(ctx: _Ctx, raw: dict[str, Any], path: KeyPath, parent: RouteConfig) -> RouteConfig:
    ctx.known(raw, path, _ROUTE_KEYS)
    r = RouteConfig(receiver=_str(ctx, raw, "receiver", path, parent.receiver))
    r.matchers = sort_matchers(_matchers(ctx, raw, "", path))
    _group_by(ctx, raw, path, r, parent)
    for key in ("group_wait", "group_interval", "repeat_interval"):
        setattr(r, key, _duration(ctx, raw, key, path, getattr(parent, key)))
        if key != "group_wait" and getattr(r, key) == 0:
            raise ctx.fail((*path, key), f"{key} cannot be zero")
    r.continue_ = _bool(ctx, raw, "continue", path, False)
    r.mute_time_intervals = [str(x) for x in _list(ctx, raw, "mute_time_intervals", path)]
    r.active_time_intervals = [str(x) for x in _list(ctx, raw, "active_time_intervals", path)]
    for i, child in enumerate(_list(ctx, raw, "routes", path)):
        if not isinstance(child, dict):
            raise ctx.fail((*path, "routes", i), "route must be a mapping")
        r.routes.append(_route(ctx, child, (*path, "routes", i), r))
    return r


def _group_by(ctx: _Ctx, raw: dict[str, Any], path: KeyPath, r: RouteConfig, parent: RouteConfig) -> None:
    if raw.get("group_by") is None:
        r.group_by, r.group_by_all = list(parent.group_by), parent.group_by_all
        return
    names = [str(x) for x in _list(ctx, raw, "group_by", path)]
    if "..." in names:
        if len(names) > 1:
            raise ctx.fail((*path, "group_by"),
                           "cannot have wildcard group_by (`...`) and other other labels at the same time")
        r.group_by_all = True
        return
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ctx.fail((*path, "group_by"), f"duplicated label {name!r} in group_by")
        seen.add(name)
    r.group_by = names


def _check_route_refs(
    ctx: _Ctx, r: RouteConfig, raw: dict[str, Any], path: KeyPath,
    receivers: dict[str, Receiver], intervals: dict[str, list[TimeInterval]],
) -> None:
    if r.receiver not in receivers:
        raise ctx.fail((*path, "receiver"), f'undefined receiver "{r.receiver}" used in route')
    for key in ("mute_time_intervals", "active_time_intervals"):
        for i, name in enumerate(getattr(r, key)):
            if name not in intervals:
                raise ctx.fail((*path, key, i), f'undefined time interval "{name}" used in route')
    for i, child in enumerate(r.routes):
        _check_route_refs(ctx, child, raw["routes"][i], (*path, "routes", i), receivers, intervals)


def _inhibit_rule(ctx: _Ctx, raw: Any, path: KeyPath) -> InhibitRule:
    if not isinstance(raw, dict):
        raise ctx.fail(path, "inhibit rule must be a mapping")
    ctx.known(raw, path, {f"{side}_{k}" for side in ("source", "target")
                          for k in ("match", "match_re", "matchers")} | {"equal"})
    equal = [str(x) for x in _list(ctx, raw, "equal", path)]
    return InhibitRule(_matchers(ctx, raw, "source_", path), _matchers(ctx, raw, "target_", path), equal)


def _templates(ctx: _Ctx, data: dict[str, Any], base_dir: Path) -> list[str]:
    out: list[str] = []
    for i, pattern in enumerate(_list(ctx, data, "templates", ())):
        full = str(pattern) if os.path.isabs(str(pattern)) else str(base_dir / str(pattern))
        try:
            out += sorted(glob.glob(full))
        except (OSError, ValueError) as exc:
            raise ctx.fail(("templates", i), str(exc)) from None
    return out


def resolve(loaded: Any, am_file: str | os.PathLike[str] | None) -> AMConfig:
    """The alertmanager config of a server: `--alertmanager-config FILE`, else pharos.yml's
    `alertmanager:` section (errors located in pharos.yml), else the built-in default."""
    if am_file is not None:
        return load_file(am_file)
    section = getattr(loaded.config, "alertmanager", None)
    if section is None:
        return default_config()
    text = loaded.text.split("\n# --- ", 1)[0]  # pharos.yml itself, before appended peer files
    path = loaded.path
    base = Path(path).resolve().parent if path is not None else None
    return parse_text(text, str(path or "pharos.yml"), section=("alertmanager",), base_dir=base)
