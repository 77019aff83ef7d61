"""Kubernetes resource quantities ("100m", "1Gi", "2e3") as floats."""

from __future__ import annotations

import re

_SUFFIX = {
    "": 1.0, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50, "Ei": 2.0**60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$")


def parse_quantity(text: object) -> float | None:
    """The value of a quantity, or None when it is not one."""
    if isinstance(text, int | float):
        return float(text)
    m = _QUANTITY.match(str(text).strip())
    if not m:
        return None
    number = float(m.group(1) + (m.group(2) or ""))
    return number * _SUFFIX[m.group(3) or ""]
