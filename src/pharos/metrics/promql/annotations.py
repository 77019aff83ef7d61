"""Warnings and infos as Prometheus renders them, with ` (line:col)` positions.

promql-parser does not expose node positions, so positions are found in the query text: the
first occurrence of a call's name, and its arguments by splitting at top-level commas.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pharos.metrics.promql.syntax import unquoted


def _pos_text(text: str, idx: int) -> str:
    line = text.count("\n", 0, idx) + 1
    col = idx - (text.rfind("\n", 0, idx) + 1) + 1
    return f"({line}:{col})"


def call_index(text: str, name: str) -> int:
    """Index of the first `name(` (or `name by/without (`) in the query text, 0 if none."""
    m = re.search(rf"(?<![\w:]){re.escape(name)}\s*(\(|by|without)", text)
    return m.start() if m else 0


def arg_index(text: str, name: str, arg: int) -> int:
    """Index where argument `arg` of the first call to `name` starts."""
    start = call_index(text, name)
    open_ = _args_open(text, start)
    if open_ < 0:
        return start
    depth, current, begin = 0, 0, open_ + 1
    for i, c in unquoted(text, open_ + 1):
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                break
            depth -= 1
        elif c == "," and depth == 0:
            if current == arg:
                break
            current += 1
            begin = i + 1
    while begin < len(text) and text[begin].isspace():
        begin += 1
    return begin


def _args_open(text: str, start: int) -> int:
    """Index of the parenthesis opening the argument list (skipping a by/without clause)."""
    i = text.find("(", start)
    m = re.match(r"\w+\s*(by|without)\s*\(", text[start:])
    if m:
        close = text.find(")", start + m.end())
        i = text.find("(", close + 1)
    return i


def go_g(f: float) -> str:
    """Go's %g for a float."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    return format(f, "g") if abs(f) < 1e21 else repr(f)


def warn(ev: Any, message: str, idx: int) -> None:
    """Record a warning (once)."""
    text = f"PromQL warning: {message} {_pos_text(ev.expr_text, idx)}"
    if text not in ev.warnings:
        ev.warnings.append(text)


def info(ev: Any, message: str, idx: int) -> None:
    """Record an info annotation (once)."""
    text = f"PromQL info: {message} {_pos_text(ev.expr_text, idx)}"
    if text not in ev.infos:
        ev.infos.append(text)


def check_quantile(ev: Any, q: Any, idx: int) -> None:
    """Warn when a quantile parameter is outside [0, 1]."""
    for value in q:
        f = float(value)
        if math.isnan(f) or f < 0 or f > 1:
            warn(ev, f"quantile value should be between 0 and 1, got {go_g(f)}", idx)
            return
