"""LogQL tokens: strings (Go double-quoted or backtick raw), numbers, durations, byte sizes,
identifiers, flags (`--strict`) and operators."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DUR_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
              "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9, "y": 365 * 86400 * 10**9}
_DUR_RE = re.compile(r"(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h|d|w|y))+\Z")
_DUR_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_BYTES_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgtpe]i?)?b\Z", re.IGNORECASE)
_BYTES_MULT = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4, "p": 1000**5, "e": 1000**6,
               "ki": 1024, "mi": 1024**2, "gi": 1024**3, "ti": 1024**4, "pi": 1024**5, "ei": 1024**6}
_NUM_RE = re.compile(r"(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_WORD_RE = re.compile(r"[0-9a-zA-Zµ_.]*")
_IDENT_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_OPS = ("|=", "!=", "=~", "!~", "|~", "|>", "!>", "==", ">=", "<=", "{", "}", "(", ")", "[", "]", ",",
        "|", "=", ">", "<", "+", "-", "*", "/", "%", "^")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


class LexError(ValueError):
    """A lexing error at `pos`."""

    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(msg)
        self.pos = pos


@dataclass(frozen=True, slots=True)
class Token:
    """kind: STRING NUMBER DURATION BYTES IDENT FLAG OP EOF; value: decoded payload."""

    kind: str
    text: str
    value: object
    pos: int


def parse_duration(text: str) -> int:
    """Nanoseconds of a Go/Prometheus duration like `1h30m` or `1.5s` (ValueError if bad)."""
    neg = text.startswith("-")
    body = text[1:] if neg else text
    if not _DUR_RE.match(body):
        raise ValueError(f"not a valid duration string: {text!r}")
    total = sum(float(n) * _DUR_UNITS[u] for n, u in _DUR_PART.findall(body))
    return -int(total) if neg else int(total)


def parse_bytes(text: str) -> int:
    """Bytes of a humanize-style size like `10KB`, `1.5MiB`, `20 B` (ValueError if bad)."""
    m = _BYTES_RE.match(text.strip())
    if not m:
        raise ValueError(f"not a valid byte size: {text!r}")
    return int(float(m.group(1)) * _BYTES_MULT[(m.group(2) or "").lower()])


def _string(src: str, pos: int) -> tuple[str, int]:
    """Decode a Go double-quoted string starting at src[pos] == '"'; returns (value, end)."""
    out, i, n = [], pos + 1, len(src)
    while i < n:
        c = src[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\n":
            break
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            break
        e = src[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU01234567":
            width = {"x": 2, "u": 4, "U": 8}.get(e, 3)
            start = i + 2 if e in "xuU" else i + 1
            digits = src[start : start + width]
            try:
                out.append(chr(int(digits, 8 if e not in "xuU" else 16)))
            except ValueError:
                raise LexError(f"invalid escape sequence \\{e}", i) from None
            i = start + width
        else:
            raise LexError(f"invalid escape sequence \\{e}", i)
    raise LexError("unterminated string", pos)


def _number_like(src: str, pos: int) -> Token:
    m = _NUM_RE.match(src, pos)
    assert m is not None
    word = _WORD_RE.match(src, pos)
    text = word.group(0) if word else m.group(0)
    # a byte size may have a space before its unit? Loki does not; keep it contiguous
    if text != m.group(0) and not text.replace(".", "").isdigit():
        if _DUR_RE.match(text):
            return Token("DURATION", text, parse_duration(text), pos)
        if _BYTES_RE.match(text):
            return Token("BYTES", text, parse_bytes(text), pos)
        if m.group(0).lower().startswith("0x") and _NUM_RE.fullmatch(text):
            return Token("NUMBER", text, float(int(text, 16)), pos)
        if re.fullmatch(r"(?:\d+\.?\d*|\.\d+)[eE][+-]?\d+", src[pos : m.end()]):
            text = m.group(0)
        else:
            raise LexError(f"invalid number or duration {text!r}", pos)
    num = m.group(0)
    value = float(int(num, 16)) if num.lower().startswith("0x") else float(num)
    return Token("NUMBER", num, value, pos)


def tokenize(src: str) -> list[Token]:
    """All tokens of `src`, ending with EOF; LexError on bad input."""
    out: list[Token] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c.isspace():
            i += 1
        elif c == "#":  # comment to end of line
            while i < n and src[i] != "\n":
                i += 1
        elif c == '"':
            value, end = _string(src, i)
            out.append(Token("STRING", src[i:end], value, i))
            i = end
        elif c == "`":
            end = src.find("`", i + 1)
            if end < 0:
                raise LexError("unterminated raw string", i)
            out.append(Token("STRING", src[i : end + 1], src[i + 1 : end], i))
            i = end + 1
        elif c.isdigit() or (c == "." and i + 1 < n and src[i + 1].isdigit()):
            tok = _number_like(src, i)
            out.append(tok)
            i += len(tok.text)
        elif c.isalpha() or c == "_":
            m = _IDENT_RE.match(src, i)
            assert m is not None
            out.append(Token("IDENT", m.group(0), m.group(0), i))
            i = m.end()
        elif src.startswith("--", i) and _IDENT_RE.match(src, i + 2):
            m = re.compile(r"--[a-zA-Z][a-zA-Z0-9_-]*").match(src, i)
            assert m is not None
            out.append(Token("FLAG", m.group(0), m.group(0), i))
            i = m.end()
        else:
            op = next((o for o in _OPS if src.startswith(o, i)), None)
            if op is None:
                raise LexError(f"unexpected character {c!r}", i)
            out.append(Token("OP", op, op, i))
            i += len(op)
    out.append(Token("EOF", "", None, n))
    return out
