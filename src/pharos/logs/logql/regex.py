"""Go RE2 regular expressions in Python's `re` (named groups, \\z, cached)."""

from __future__ import annotations

import functools
import re

_NAMED = re.compile(r"\(\?<(?![=!])")


@functools.lru_cache(maxsize=4096)
def compile_go(pattern: str, anchored: bool) -> re.Pattern[str]:
    """Compile a Go regular expression; anchored=True matches the whole string (label
    matchers), else it searches (line filters). Raises re.error on bad syntax."""
    py = _NAMED.sub("(?P<", pattern).replace(r"\z", r"\Z")
    if anchored:
        py = f"(?:{py})\\Z" if not py.startswith("(?") or py.startswith("(?:") or py.startswith("(?P") \
            else _anchor_with_flags(py)
    return re.compile(py)


def _anchor_with_flags(py: str) -> str:
    m = re.match(r"\(\?[a-zA-Z]+\)", py)
    if m:
        return m.group(0) + f"(?:{py[m.end():]})\\Z"
    return f"(?:{py})\\Z"
