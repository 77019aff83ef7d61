"""OTLP metric and attribute names to Prometheus names, as Prometheus 3's default translation
(`UnderscoreEscapingWithSuffixes`): unit and `_total`/`_ratio` suffixes, invalid characters
escaped to underscores."""

from __future__ import annotations

import re

UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
PER_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_ANNOTATION = re.compile(r"\{[^}]*\}")
_NOT_ALNUM = re.compile(r"[^a-zA-Z0-9]+")
_INVALID_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")


def _clean(unit: str) -> str:
    return "_".join(t for t in _NOT_ALNUM.split(unit) if t)


def unit_suffixes(unit: str) -> tuple[str, str]:
    """(main unit word, per-unit word) of a UCUM unit; annotations like {request} are dropped."""
    unit = _ANNOTATION.sub("", unit).strip()
    if not unit:
        return "", ""
    main, _, per = unit.partition("/")
    return _clean(UNITS.get(main, main)), _clean(PER_UNITS.get(per, per))


def metric_name(name: str, unit: str, kind: str) -> str:
    """`kind` is "counter" (monotonic sum), "gauge" or another type."""
    tokens = [t for t in _NOT_ALNUM.split(name) if t]
    main, per = unit_suffixes(unit)
    if main and main not in tokens:
        tokens.append(main)
    if per and per not in tokens:
        tokens += ["per", per]
    if kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if unit == "1" and kind == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    out = "_".join(tokens)
    return "_" + out if out[:1].isdigit() else out


def label_name(name: str) -> str:
    """An attribute key as a label name: invalid characters become '_', a leading digit gets
    'key_' and a single leading underscore 'key'."""
    if not name:
        return name
    out = _INVALID_LABEL_CHAR.sub("_", name)
    if out[0].isdigit():
        return "key_" + out
    if out.startswith("_") and not out.startswith("__"):
        return "key" + out
    return out
