"""The shared vocabulary of the metrics side: label sets, matchers and staleness markers."""

from __future__ import annotations

import math
import re
import struct
import sys
from dataclasses import dataclass, field
from enum import StrEnum

METRIC_NAME = "__name__"

# A label set is a tuple of (name, value) pairs sorted by name; it includes __name__.
# Tuples are hashable and compact; names and values are interned so that the millions of
# repeated strings ("job", "instance", "node") exist once in memory.
Labels = tuple[tuple[str, str], ...]

_pair_cache: dict[tuple[str, str], tuple[str, str]] = {}


def _pair(name: str, value: str) -> tuple[str, str]:
    key = (name, value)
    cached = _pair_cache.get(key)
    if cached is None:
        cached = (sys.intern(name), sys.intern(value)) if len(value) < 64 else (sys.intern(name), value)
        if len(_pair_cache) < 1_000_000:
            _pair_cache[cached] = cached
    return cached


def make_labels(pairs: dict[str, str] | list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> Labels:
    """Build a canonical label set: sorted by name, empty values dropped (Prometheus semantics)."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return tuple(sorted(_pair(n, v) for n, v in items if v != ""))


def labels_to_dict(labels: Labels) -> dict[str, str]:
    return dict(labels)


def label_value(labels: Labels, name: str) -> str:
    """The value of `name` in `labels`, or "" when absent (as Prometheus treats a missing label)."""
    for n, v in labels:
        if n == name:
            return v
    return ""


def metric_name(labels: Labels) -> str:
    return label_value(labels, METRIC_NAME)


def format_labels(labels: Labels) -> str:
    """Render like Prometheus: name{a="b", c="d"}."""
    name = metric_name(labels)
    inner = ", ".join(f'{n}="{escape_label_value(v)}"' for n, v in labels if n != METRIC_NAME)
    return f"{name}{{{inner}}}" if inner or not name else name


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class MatchOp(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """A label matcher; regexes are fully anchored, as in Prometheus."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
            object.__setattr__(self, "_regex", compile_anchored(self.value))

    def matches(self, value: str) -> bool:
        if self.op is MatchOp.EQUAL:
            return value == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return value != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(value) is not None
        return hit if self.op is MatchOp.REGEX else not hit

    def matches_empty(self) -> bool:
        return self.matches("")


def compile_anchored(pattern: str) -> re.Pattern[str]:
    """Compile a Prometheus (RE2) regex with Prometheus's full anchoring: ^(?:pattern)$.

    Raises re.error on an invalid pattern.
    """
    return re.compile(f"^(?:{pattern})$", re.DOTALL)


# Prometheus marks a series stale with a NaN carrying this exact bit pattern.
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_marker(value: float) -> bool:
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS
