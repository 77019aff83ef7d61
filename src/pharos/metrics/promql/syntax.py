"""Pieces of PromQL's surface syntax shared by the HTTP API, the test runner, the annotations
and the CLI client: Prometheus durations and a scan of query text that skips string literals."""

from __future__ import annotations

import re
from collections.abc import Iterator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "y": 31_536_000_000,
}


def duration_ms(text: str, fractions: bool = False) -> int | None:
    """A Prometheus duration (`1h30m`) in milliseconds, None when `text` is not one.

    With `fractions`, a part may have a decimal fraction (`1.5m`), as the test scripts allow."""
    pos, total = 0, 0
    for m in _PART.finditer(text):
        number, unit = m.groups()
        if m.start() != pos or (not fractions and "." in number):
            return None
        total += int(number) * _UNIT_MS[unit] if number.isdigit() else round(float(number) * _UNIT_MS[unit])
        pos = m.end()
    return total if text and pos == len(text) else None


def unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str]]:
    """(index, character) of the characters of `text` from `start` outside string literals."""
    quote, i = "", start
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        else:
            yield i, c
        i += 1
