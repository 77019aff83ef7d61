"""Prometheus' template functions (humanize*, query, first, label, ...) and alert expansion.

`expand(text, name, labels, value, ...)` renders an alert label or annotation as Prometheus
does: `$labels`, `$value`, `$externalLabels`, `$externalURL` are set, and a failure renders as
`<error expanding template: ...>`.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import math
import re
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pharos.rules.template import FuncMap, Template, TemplateError, go_format_g

QueryFn = Callable[[str], list["QuerySample"]]


@dataclass
class QuerySample:
    """One element of a `query` result, with Go's field names."""

    Labels: dict[str, str] = field(default_factory=dict)
    Value: float = 0.0


def to_float(v: Any) -> float:
    """Prometheus' convertToFloat: numbers and numeric strings."""
    if isinstance(v, bool):
        raise ValueError("can't convert bool to float")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            raise ValueError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    raise ValueError(f"can't convert {type(v).__name__} to float")


def _scaled(v: float, prefixes: str, up: bool) -> tuple[float, str]:
    prefix = ""
    for p in prefixes.split():
        if (abs(v) < 1000) if up else (abs(v) >= 1):
            break
        prefix = p
        v = v / 1000 if up else v * 1000
    return v, prefix


def humanize(i: Any) -> str:
    """1234 -> 1.234k, 0.001 -> 1m (SI prefixes, 4 significant digits)."""
    v = to_float(i)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return go_format_g(v, 4)
    if abs(v) >= 1:
        v, p = _scaled(v, "k M G T P E Z Y", True)
    else:
        v, p = _scaled(v, "m u n p f a z y", False)
    return go_format_g(v, 4) + p


def humanize1024(i: Any) -> str:
    """1024 -> 1ki (binary prefixes)."""
    v = to_float(i)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return go_format_g(v, 4)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return go_format_g(v, 4) + prefix


def humanize_duration(i: Any) -> str:
    """Seconds as `1d 2h 3m 4s`, `1.5s` or `500ms`."""
    v = to_float(i)
    if math.isnan(v) or math.isinf(v):
        return go_format_g(v, 4)
    if v == 0:
        return go_format_g(v, 4) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        d = int(v)
        s, m, h, days = d % 60, (d // 60) % 60, (d // 3600) % 24, d // 86400
        if days:
            return f"{sign}{days}d {h}h {m}m {s}s"
        if h:
            return f"{sign}{h}h {m}m {s}s"
        if m:
            return f"{sign}{m}m {s}s"
        return f"{sign}{go_format_g(v, 4)}s"
    v, p = _scaled(v, "m u n p f a z y", False)
    return f"{go_format_g(v, 4)}{p}s"


def humanize_percentage(i: Any) -> str:
    """0.1234 -> 12.34%."""
    return go_format_g(to_float(i) * 100, 4) + "%"


def go_time(t: dt.datetime) -> str:
    """time.Time as fmt.Sprint prints it (UTC)."""
    base = t.strftime("%Y-%m-%d %H:%M:%S")
    frac = f"{t.microsecond:06d}".rstrip("0")
    return f"{base}{'.' + frac if frac else ''} +0000 UTC"


def humanize_timestamp(i: Any) -> str:
    """Unix seconds as `2006-01-02 15:04:05.999 +0000 UTC` (millisecond precision)."""
    v = to_float(i)
    if math.isnan(v) or math.isinf(v):
        return go_format_g(v, 4)
    ms = int(v * 1e9) // 1_000_000
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return go_time(epoch + dt.timedelta(milliseconds=ms))


def go_title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word."""
    out, prev_sep = [], True
    for c in s:
        out.append(c.upper() if prev_sep and c.isalpha() else c)
        prev_sep = not (c.isalnum() or c == "_")
    return "".join(out)


def go_replacement(repl: str) -> str:
    """Go's `$1`/`${name}` replacement syntax in Python's `\\g<...>` form."""
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return "\\g<" + (m.group(1) or m.group(2)) + ">"

    return re.sub(r"\$\$|\$\{(\w+)\}|\$(\w+)", sub, repl.replace("\\", "\\\\"))


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """regexp.ReplaceAllString."""
    try:
        return re.sub(pattern, go_replacement(repl), text)
    except (re.error, IndexError) as exc:
        raise ValueError(str(exc)) from None


def strip_port(host_port: str) -> str:
    """net.SplitHostPort's host, or the input when it has no port."""
    if host_port.startswith("["):
        end = host_port.find("]")
        if end > 0 and host_port[end + 1:end + 2] == ":":
            return host_port[1:end]
        return host_port
    if host_port.count(":") == 1:
        return host_port.split(":", 1)[0]
    return host_port


def first(v: list[QuerySample]) -> QuerySample:
    """The first sample of a query result."""
    if not v:
        raise ValueError("first() called on vector with no elements")
    return v[0]


def sort_by_label(label: str, v: list[QuerySample]) -> list[QuerySample]:
    """A query result sorted by one label's value."""
    return sorted(v, key=lambda s: s.Labels.get(label, ""))


def _args(*a: Any) -> dict[str, Any]:
    return {f"arg{i}": x for i, x in enumerate(a)}


def _label(name: str, s: QuerySample) -> str:
    return s.Labels.get(name, "") if s is not None else ""


def _graph_link(expr: str) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr)}&g0.tab=0"


def _table_link(expr: str) -> str:
    return f"/graph?g0.expr={urllib.parse.quote_plus(expr)}&g0.tab=1"


def prometheus_funcs(query: QueryFn | None = None, external_url: str = "") -> dict[str, Callable[..., Any]]:
    """The function map Prometheus gives alert templates."""
    def run_query(q: str) -> list[QuerySample]:
        if query is None:
            raise ValueError("query is not available here")
        return query(q)

    return {
        "query": run_query,
        "first": first,
        "label": _label,
        "value": lambda s: s.Value,
        "strvalue": lambda s: s.Labels.get("__value__", ""),
        "args": _args,
        "reReplaceAll": re_replace_all,
        "safeHtml": lambda s: s,
        "match": lambda pattern, text: re.search(pattern, text) is not None,
        "title": go_title,
        "toUpper": str.upper,
        "toLower": str.lower,
        "graphLink": _graph_link,
        "tableLink": _table_link,
        "sortByLabel": sort_by_label,
        "humanize": humanize,
        "humanize1024": humanize1024,
        "humanizeDuration": humanize_duration,
        "humanizePercentage": humanize_percentage,
        "humanizeTimestamp": humanize_timestamp,
        "stripPort": strip_port,
        "stripDomain": lambda s: s.split(".", 1)[0] if not s.startswith("[") else s,
        "pathPrefix": lambda: urllib.parse.urlparse(external_url).path,
        "externalURL": lambda: external_url,
        "toTime": lambda v: dt.datetime.fromtimestamp(to_float(v), dt.UTC),
    }


#: The functions available when parsing (checked at load); runtime maps have the same names.
PARSE_FUNCS: FuncMap = prometheus_funcs()


def check_template(text: str, name: str) -> None:
    """Raise TemplateError when `text` does not parse (rule load and promtool check rules)."""
    Template(name, text, PARSE_FUNCS)


@functools.lru_cache(maxsize=4096)
def _parsed(name: str, text: str) -> Template:
    """A template parsed once per (name, text); executions use a copy with their own funcs."""
    return Template(name, text, PARSE_FUNCS)


def expand(
    text: str,
    name: str,
    labels: Mapping[str, str],
    value: float,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
    query: QueryFn | None = None,
) -> str:
    """Render one alert label/annotation value; errors render as Prometheus renders them."""
    if "{{" not in text:
        return text
    data = {
        "Labels": dict(labels),
        "ExternalLabels": dict(external_labels or {}),
        "ExternalURL": external_url,
        "Value": value,
    }
    variables = {
        "labels": data["Labels"],
        "externalLabels": data["ExternalLabels"],
        "externalURL": external_url,
        "value": value,
    }
    try:
        tmpl = copy.copy(_parsed(name, text))
        tmpl.funcs = prometheus_funcs(query, external_url)
        return tmpl.execute(data, variables)
    except TemplateError as exc:
        return f"<error expanding template: {exc}>"
    except RecursionError:
        return "<error expanding template: too deep>"
