"""Prometheus's duration and byte-size formats: `1m30s` -> 90.0 seconds, `512KiB` -> 524288 bytes."""

from __future__ import annotations

import math
import re

_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_UNITS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
_MAX_DURATION_S = (2**63 - 1) / 1e9

_SIZE_UNITS = {
    "B": 1,
    "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4, "PB": 1024**5, "EB": 1024**6,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5, "EiB": 1024**6,
}
_SIZE_PART_RE = re.compile(r"(\d*\.?\d*)([^\d.]*)")


def parse_duration(text: str) -> float:
    """Parse a Prometheus duration (`15s`, `1m30s`, `2d`, `0`) to seconds; ValueError if invalid."""
    if text == "0":
        return 0.0
    if text == "":
        raise ValueError("empty duration string")
    m = _DURATION_RE.match(text)
    if m is None:
        raise ValueError(f"not a valid duration string: {_go_quote(text)}")
    total = sum(int(g) * unit for g, unit in zip(m.groups(), _DURATION_UNITS, strict=True) if g)
    if total > _MAX_DURATION_S:
        raise ValueError(f"duration out of range: {_go_quote(text)}")
    return total


def format_duration(seconds: float) -> str:
    """Render seconds as Prometheus does (`1m30s`, `2d`, `0s`)."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    out = []
    for unit, size in (("y", 31_536_000_000), ("w", 604_800_000), ("d", 86_400_000),
                       ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(out)


def parse_size(text: str) -> int:
    """Parse a Prometheus byte size (`10MB`, `512KiB`, `1GB512MB`, `0`) to bytes, base 2."""
    if text == "0":
        return 0
    if text == "":
        raise ValueError("units: invalid empty string")
    total = 0.0
    rest = text
    while rest:
        m = _SIZE_PART_RE.match(rest)
        assert m is not None
        number, unit = m.group(1), m.group(2)
        if number in ("", "."):
            raise ValueError(f"units: invalid {_go_quote(text)}")
        if unit not in _SIZE_UNITS:
            raise ValueError(f"units: unknown unit {unit} in {text}")
        total += float(number) * _SIZE_UNITS[unit]
        rest = rest[m.end():]
    if not math.isfinite(total) or total >= 2**63:
        raise ValueError(f"units: overflow in {text}")
    return int(total)


def _go_quote(text: str) -> str:
    """Quote like Go's %q for the common cases."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
