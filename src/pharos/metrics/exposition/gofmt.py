"""Go's number parsing and %q quoting, reproduced so errors read exactly as Prometheus's."""

from __future__ import annotations

import math
import re
import struct

# Prometheus replaces every parsed NaN with this bit pattern (value.NormalNaN).
NORMAL_NAN: float = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INF = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)
_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+")
_INT64_MAX = (1 << 63) - 1

_SIMPLE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


class GoNumError(ValueError):
    """A strconv error, rendered like Go's *strconv.NumError."""


def go_quote(s: str) -> str:
    """Quote like Go's strconv.Quote (%q); surrogate escapes stand for invalid UTF-8 bytes."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif ch in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_format_f(x: float) -> str:
    """Go's %f for the special values the parser reports."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return f"{x:f}"


def _num_error(func: str, s: str, reason: str) -> GoNumError:
    return GoNumError(f"strconv.{func}: parsing {go_quote(s)}: {reason}")


def go_parse_float(s: str) -> float:
    """Prometheus's parseFloat: strconv.ParseFloat(s, 64) without p, P or _ (pre-Go 1.13 syntax)."""
    if "p" in s or "P" in s or "_" in s:
        raise GoNumError("unsupported character in float")
    if _DECIMAL.fullmatch(s):
        value = float(s)
        if math.isinf(value):
            raise _num_error("ParseFloat", s, "value out of range")
        return value
    if _INF.fullmatch(s):
        return -math.inf if s[0] == "-" else math.inf
    if len(s) == 3 and s.lower() == "nan":
        return math.nan
    if _HEX.fullmatch(s):  # unreachable after the p check; kept for completeness
        return float.fromhex(s)
    raise _num_error("ParseFloat", s, "invalid syntax")


def go_parse_int(s: str) -> int:
    """strconv.ParseInt(s, 10, 64) for the digit strings the text lexer produces."""
    if not s or not (s.isascii() and s.lstrip("+-").isdigit()) or s.count("+") + s.count("-") > 1:
        raise _num_error("ParseInt", s, "invalid syntax")
    value = int(s)
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise _num_error("ParseInt", s, "value out of range")
    return value


def go_float_to_ms(seconds: float) -> int:
    """int64(seconds * 1000) as Go computes it on amd64 (out of range gives math.MinInt64)."""
    ms = seconds * 1000
    if not -9.223372036854775808e18 <= ms < 9.223372036854775808e18:
        return -_INT64_MAX - 1
    return int(ms)
