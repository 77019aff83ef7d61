"""Go string semantics for PromQL string literals.

Go decodes `\\xNN` and `\\NNN` escapes to bytes, which may form invalid UTF-8; promql-parser
decodes them to code points. Before parsing, runs of byte escapes are decoded as UTF-8 here:
valid sequences become their characters, and each invalid byte becomes a private-use character
(U+10FF00 + byte) that `valid_name` rejects and `go_quote` renders as `\\xNN`, as Go's %q does.
"""

from __future__ import annotations

import re

_RAW_BASE = 0x10FF00
_BYTE_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|[0-7]{3})")


def _byte_of(escape: str) -> int:
    return int(escape[2:], 16) if escape[1] == "x" else int(escape[1:], 8)


def _decode_run(run: list[int]) -> str:
    """Bytes as Go would hold them, re-rendered as literal text for promql-parser."""
    text = bytes(run).decode("utf-8", errors="surrogateescape")
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(chr(_RAW_BASE + code - 0xDC00))
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    return "".join(out)


def _rewrite_literal(body: str) -> str:
    out: list[str] = []
    run: list[int] = []
    i = 0
    while i < len(body):
        m = _BYTE_ESCAPE.match(body, i)
        if m:
            run.append(_byte_of(m.group(0)))
            i = m.end()
            continue
        if run:
            out.append(_decode_run(run))
            run = []
        step = 2 if body[i] == "\\" else 1
        out.append(body[i : i + step])
        i += step
    if run:
        out.append(_decode_run(run))
    return "".join(out)


def decode_byte_escapes(query: str) -> str:
    """The query with byte escapes inside "..." and '...' literals decoded as Go would."""
    if "\\" not in query:
        return query
    out: list[str] = []
    i = 0
    while i < len(query):
        quote = query[i]
        if quote not in "\"'`":
            out.append(quote)
            i += 1
            continue
        end = _literal_end(query, i)
        body = query[i + 1 : end]
        out.append(quote + (body if quote == "`" else _rewrite_literal(body)) + query[end : end + 1])
        i = end + 1
    return "".join(out)


def _literal_end(query: str, start: int) -> int:
    quote, i = query[start], start + 1
    while i < len(query):
        if query[i] == "\\" and quote != "`":
            i += 2
            continue
        if query[i] == quote:
            return i
        i += 1
    return len(query)


def has_raw_bytes(s: str) -> bool:
    """Whether the string holds bytes that are not valid UTF-8 (in Go's view)."""
    return any(_RAW_BASE + 0x80 <= ord(c) <= _RAW_BASE + 0xFF for c in s)


def valid_name(name: str) -> bool:
    """A valid (UTF-8) label name: non-empty, valid UTF-8."""
    return name != "" and not has_raw_bytes(name)


def go_quote(s: str) -> str:
    """Go's %q for a string that may hold invalid bytes."""
    out = ['"']
    for c in s:
        code = ord(c)
        if _RAW_BASE + 0x80 <= code <= _RAW_BASE + 0xFF:
            out.append(f"\\x{code - _RAW_BASE:02x}")
        elif c in '"\\':
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif not c.isprintable():
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)
