"""Go's `strconv.FormatFloat(v, 'g', -1, 64)`, the float format of expfmt and the Pushgateway."""

from __future__ import annotations

import math
from decimal import Decimal


def go_g(value: float) -> str:
    """Shortest round-trip digits, in exponent form when the decimal exponent is < -4 or >= 6
    (Go's rule for 'g' with precision -1: 1e+06, 1.5e+09, 0.0001, 1e-05)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    dp = len(digit_tuple) + exponent  # position of the decimal point relative to the digits
    neg = "-" if sign else ""
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{neg}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return neg + digits + "0" * (dp - len(digits))
    return f"{neg}{digits[:dp]}.{digits[dp:]}"
