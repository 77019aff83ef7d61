"""Loki's `pattern` expressions: literals and `<name>` / `<_>` captures."""

from __future__ import annotations

import functools
import re

_CAPTURE = re.compile(r"<([a-zA-Z_][a-zA-Z0-9_]*)>")


@functools.lru_cache(maxsize=1024)
def compile_pattern(text: str, line_filter: bool = False) -> tuple[tuple[str, bool], ...]:
    """Parts of a pattern as (literal, False) / (name, True); ValueError when invalid."""
    parts: list[tuple[str, bool]] = []
    pos = 0
    for m in _CAPTURE.finditer(text):
        if m.start() > pos:
            parts.append((text[pos : m.start()], False))
        if parts and parts[-1][1]:
            raise ValueError("found consecutive capture '" + m.group(0) + "': invalid pattern")
        parts.append((m.group(1), True))
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], False))
    named = [p for p, cap in parts if cap and p != "_"]
    if not line_filter and not named:
        raise ValueError("at least one capture is required: invalid pattern")
    if len(set(named)) != len(named):
        raise ValueError("duplicate capture name: invalid pattern")
    return tuple(parts)


def match_pattern(parts: tuple[tuple[str, bool], ...], line: str) -> dict[str, str]:
    """Captures of `line` (Loki's matcher: each capture runs to the next literal)."""
    out: dict[str, str] = {}
    i = 0
    rest = line
    if parts and not parts[0][1]:
        if not rest.startswith(parts[0][0]):
            return out
        rest = rest[len(parts[0][0]) :]
        i = 1
    while i < len(parts):
        name = parts[i][0]
        if i + 1 >= len(parts):
            if name != "_":
                out[name] = rest
            return out
        lit = parts[i + 1][0]
        j = rest.find(lit)
        if j < 0:
            if name != "_":
                out[name] = rest
            return out
        if name != "_":
            out[name] = rest[:j]
        rest = rest[j + len(lit) :]
        i += 2
    return out


def pattern_regex(text: str) -> str:
    """An RE2 regular expression matching lines that a `|>` pattern filter accepts."""
    parts = compile_pattern(text, line_filter=True)
    body = "".join(".*?" if cap else re.escape(p) for p, cap in parts)
    return "(?s)^" + body + "$"
