"""Prometheus's own parse-error cases: accepted or rejected exactly as Go does, with Go's text."""

from __future__ import annotations

import base64
import json

import pytest

from pharos.metrics.exposition import ExpositionFormat, ParseError, parse, parse_reference
from shared_data import CONFORMANCE

EXTRACTED = CONFORMANCE / "textparse" / "extracted"
FILES = {"prom_parse_errors.json": ExpositionFormat.PROMETHEUS_TEXT,
         "openmetrics_parse_errors.json": ExpositionFormat.OPENMETRICS}


def _cases() -> list[object]:
    out = []
    for name, fmt in FILES.items():
        for i, case in enumerate(json.loads((EXTRACTED / name).read_text())["cases"]):
            out.append(pytest.param(base64.b64decode(case["input_b64"]), fmt, case["err"], id=f"{name[:4]}-{i}"))
    return out


CASES = _cases()


def test_all_cases_present() -> None:
    assert len(CASES) == 88


def _outcome(fn: object, body: bytes, fmt: ExpositionFormat) -> str:
    try:
        fn(body, fmt)  # type: ignore[operator]
    except ParseError as err:
        prefix, _, message = str(err).partition(": ")
        assert prefix.startswith("line ") and prefix[5:].isdigit()
        return message
    return "EOF"  # Go's io.EOF: the parser finished cleanly


@pytest.mark.parametrize(("body", "fmt", "expected"), CASES)
def test_case(body: bytes, fmt: ExpositionFormat, expected: str) -> None:
    assert _outcome(parse, body, fmt) == expected
    assert _outcome(parse_reference, body, fmt) == expected


def test_error_names_the_line() -> None:
    body = b"a 1\nb 2\n\nc{d=\"e\" 3\n"
    with pytest.raises(ParseError, match=r'^line 4: expected label name, got "3" \("INVALID"\)'):
        parse(body, ExpositionFormat.PROMETHEUS_TEXT)
    with pytest.raises(ParseError, match=r"^line 3: expected a valid start token"):
        parse(b"a 1\nb 2\n\n# EOF\n", ExpositionFormat.OPENMETRICS)
