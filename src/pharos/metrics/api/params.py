"""Request parameters parsed as Prometheus parses them: times, `match[]` selectors, limits.

Time parameters are RFC3339 (with optional fractional seconds and zone offset) or unix seconds
as a float; results are int64 milliseconds. `match[]` selectors go through `promql-parser`
and become pharos `Matcher` lists (one list per selector; `or` inside braces yields several).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime

import promql_parser

from pharos.metrics.api.errors import bad_data, invalid_param
from pharos.metrics.model import METRIC_NAME, Matcher, MatchOp

# Prometheus's boundary times (v1.minTime / v1.maxTime) in milliseconds.
MIN_TIME_MS = ((-(2**63)) // 1000 + 1 + 62135596801) * 1000
MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999
MIN_TIME_TEXT = "-292273086-05-16T16:47:06Z"
MAX_TIME_TEXT = "292277025-08-18T07:12:54.999999999Z"

_FLOAT_RE = re.compile(r"[+-]?(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?|[+-]?(?i:inf|infinity|nan)")
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)

EMPTY_MATCHERS = "match[] must contain at least one non-empty matcher"
_OPS = {"=": MatchOp.EQUAL, "!=": MatchOp.NOT_EQUAL, "=~": MatchOp.REGEX, "!~": MatchOp.NOT_REGEX}
_PARSER_OPS = {
    "Equal": MatchOp.EQUAL,
    "NotEqual": MatchOp.NOT_EQUAL,
    "Re": MatchOp.REGEX,
    "NotRe": MatchOp.NOT_REGEX,
}


def parse_time(text: str) -> int:
    """Parse a Prometheus time parameter to milliseconds; ValueError with Prometheus's message."""
    if _FLOAT_RE.fullmatch(text):
        return _float_seconds_to_ms(float(text))
    match = _RFC3339_RE.fullmatch(text)
    if match:
        return _rfc3339_to_ms(match)
    if text == MIN_TIME_TEXT:
        return MIN_TIME_MS
    if text == MAX_TIME_TEXT:
        return MAX_TIME_MS
    raise ValueError(f'cannot parse "{text}" to a valid timestamp')


def _float_seconds_to_ms(seconds: float) -> int:
    """Seconds to ms, rounding the fraction to ms like Prometheus (NaN/Inf map to the min time)."""
    if not math.isfinite(seconds):
        return MIN_TIME_MS
    frac, whole = math.modf(seconds)
    return int(whole) * 1000 + round(frac * 1000)


def _rfc3339_to_ms(match: re.Match[str]) -> int:
    year, month, day, hour, minute, sec, frac, zone = match.groups()
    try:
        stamp = datetime.fromisoformat(f"{year}-{month}-{day}T{hour}:{minute}:{sec}{_zone(zone)}")
    except ValueError as exc:
        raise ValueError(f'cannot parse "{match.string}" to a valid timestamp') from exc
    millis = int((frac or "0").ljust(9, "0")[:3])
    return int(stamp.timestamp()) * 1000 + millis


def _zone(zone: str) -> str:
    return "+00:00" if zone in ("Z", "z") else zone


def time_param(form: dict[str, list[str]], name: str, default: int) -> int:
    """The time parameter `name` (first value), or `default` when absent or empty."""
    value = first(form, name)
    if not value:
        return default
    try:
        return parse_time(value)
    except ValueError as exc:
        raise invalid_param(name, f"Invalid time value for '{name}': {exc}") from None


def first(form: dict[str, list[str]], name: str) -> str:
    """The first value of a form parameter, "" when absent (Go's FormValue)."""
    values = form.get(name)
    return values[0] if values else ""


def parse_selector(text: str) -> list[list[Matcher]]:
    """Parse a series selector like `up{job="x"}` into matcher sets; ValueError on bad input."""
    try:
        expr = promql_parser.parse(text)
    except (ValueError, RuntimeError) as exc:
        if "at least one non-empty matcher" in str(exc):
            raise ValueError(EMPTY_MATCHERS) from None
        raise ValueError(f"parse error: {exc}") from None
    if not isinstance(expr, promql_parser.VectorSelector) or expr.offset is not None or expr.at is not None:
        raise ValueError(f"parse error: expected a series selector, got {text!r}")
    base: list[Matcher] = []
    if expr.name:
        base.append(Matcher(METRIC_NAME, MatchOp.EQUAL, expr.name))
    groups = expr.matchers.or_matchers or [expr.matchers.matchers]
    return [base + [_convert(m) for m in group] for group in groups]


def _convert(m: promql_parser.Matcher) -> Matcher:
    op_name = str(m.op).rsplit(".", 1)[-1]
    op = _PARSER_OPS.get(op_name) or _OPS[op_name]
    try:
        return Matcher(m.name, op, m.value)
    except re.error as exc:
        raise ValueError(f"parse error: error parsing regexp: {exc}: `{m.value}`") from None


def parse_matcher_sets(selectors: Iterable[str]) -> list[list[Matcher]]:
    """All matcher sets of several `match[]` values; ValueError names the first bad one."""
    sets: list[list[Matcher]] = []
    for selector in selectors:
        sets.extend(parse_selector(selector))
    for matchers in sets:
        if all(m.matches_empty() for m in matchers):
            raise ValueError(EMPTY_MATCHERS)
    return sets


def limit_param(form: dict[str, list[str]]) -> int:
    """The `limit` parameter of series/labels/label values: 0 (or absent) means no limit."""
    value = first(form, "limit")
    if not value:
        return 0
    try:
        limit = int(value)
    except ValueError:
        raise invalid_param("limit", f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    if limit < 0:
        raise invalid_param("limit", "limit must be non-negative")
    return limit


def int_param(form: dict[str, list[str]], name: str, default: int) -> int:
    """An integer parameter answered like Prometheus's metadata endpoints ("limit must be a number")."""
    value = first(form, name)
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_data(f"{name} must be a number") from None
