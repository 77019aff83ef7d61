"""Semantics of single lines: escapes, special values, timestamps, metadata, content types, cache."""

from __future__ import annotations

import math
import struct

import pytest

from pharos.metrics.exposition import (
    SCRAPE_ACCEPT_HEADER,
    ExpositionFormat,
    ParseCache,
    ParseError,
    parse,
    parse_reference,
)
from pharos.metrics.exposition.gofmt import NORMAL_NAN

TEXT, OM = ExpositionFormat.PROMETHEUS_TEXT, ExpositionFormat.OPENMETRICS


def one(body: str, fmt: ExpositionFormat = TEXT):
    samples = parse(body.encode(), fmt).samples
    assert len(samples) == 1
    return samples[0]


@pytest.mark.parametrize(("content_type", "expected"), [
    (None, TEXT),
    ("", TEXT),
    ("text/plain; version=0.0.4; charset=utf-8", TEXT),
    ("application/openmetrics-text; version=1.0.0; charset=utf-8", OM),
    ("application/openmetrics-text", OM),
    ("Application/OpenMetrics-Text;version=0.0.1", OM),
    ("application/openmetrics-text; version=1.0.0;", OM),
    ("application/openmetrics-text; version", TEXT),  # Go: invalid parameter -> text parser
    ("application/openmetrics-text; a=1; a=2", TEXT),  # duplicate parameter
    ("application/json", TEXT),
    ("garbage", TEXT),
])
def test_format_from_content_type(content_type: str | None, expected: ExpositionFormat) -> None:
    from pharos.metrics.exposition import format_from_content_type

    assert format_from_content_type(content_type) is expected


def test_accept_header_is_prometheus_2_42s() -> None:
    assert SCRAPE_ACCEPT_HEADER.startswith("application/openmetrics-text;version=1.0.0,")


def test_label_escapes_and_key() -> None:
    s = one('m{a="x\\"y",b="back\\\\slash",c="new\\nline",d="keep\\t"} 1\n')
    assert s.key == 'm{a="x\\"y",b="back\\\\slash",c="new\\nline",d="keep\\t"}'
    assert dict(s.labels) == {"__name__": "m", "a": 'x"y', "b": "back\\slash", "c": "new\nline", "d": "keep\\t"}


def test_empty_label_values_are_dropped() -> None:
    assert one('m{a="",b="1"} 2').labels == (("__name__", "m"), ("b", "1"))


@pytest.mark.parametrize(("text", "expected"), [
    ("NaN", math.nan), ("nan", math.nan), ("+Inf", math.inf), ("-Inf", -math.inf), ("Inf", math.inf),
    ("infinity", math.inf), ("1e3", 1000.0), (".5", 0.5), ("5.", 5.0), ("-0", -0.0), ("1E-2", 0.01),
])
def test_special_values(text: str, expected: float) -> None:
    for fmt, body in ((TEXT, f"m {text}\n"), (OM, f"m {text}\n# EOF\n")):
        v = one(body, fmt).value
        if math.isnan(expected):
            assert struct.pack("<d", v) == struct.pack("<d", NORMAL_NAN)
        else:
            assert v == expected


@pytest.mark.parametrize("text", ["1_000", "0x10", "0x1p3", "true", "+nan", "-NaN", "1e400", "\u0661", "1,5", "infinit"])
def test_values_go_rejects(text: str) -> None:
    cache = ParseCache()
    parse(b"m 1\n", TEXT, cache)  # the series is cached: the fast path sees the bad value
    with pytest.raises(ParseError, match=r"^line 1: "):
        parse(f"m {text}\n".encode(), TEXT, cache)
    with pytest.raises(ParseError, match=r"^line 1: "):
        parse_reference(f"m {text}\n".encode(), TEXT)


def test_text_timestamps_are_int_ms() -> None:
    assert one("m 1 1700000000123\n").timestamp_ms == 1700000000123
    with pytest.raises(ParseError, match="expected timestamp or new record"):
        parse(b"m 1 -5\n", TEXT)
    with pytest.raises(ParseError, match="value out of range"):
        parse(b"m 1 99999999999999999999\n", TEXT)


def test_openmetrics_timestamps_are_float_seconds() -> None:
    assert one("m 1 1700000000.123\n# EOF\n", OM).timestamp_ms == 1700000000123
    assert one("m 1 -1.5\n# EOF\n", OM).timestamp_ms == -1500
    with pytest.raises(ParseError, match=r"^line 1: invalid timestamp \+Inf"):
        parse(b"m 1 +Inf\n# EOF\n", OM)


def test_text_metadata() -> None:
    body = b"# HELP m Some \\\\ help\\nmore\n# TYPE m untyped\n# just a comment\nm 1\n"
    result = parse(body, TEXT)
    md = result.metadata["m"]
    assert (md.type, md.help, md.unit) == ("unknown", "Some \\ help\nmore", "")
    assert parse_reference(body, TEXT).metadata == result.metadata


def test_openmetrics_metadata_and_unit() -> None:
    body = b'# TYPE m_seconds gauge\n# UNIT m_seconds seconds\n# HELP m_seconds Q \\"x\\"\nm_seconds 1\n# EOF\n'
    md = parse(body, OM).metadata["m_seconds"]
    assert (md.type, md.help, md.unit) == ("gauge", 'Q "x"', "seconds")


def test_openmetrics_eof_rules() -> None:
    assert parse(b"# EOF", OM).samples == []
    for bad in (b"m 1\n", b"m 1\n# EOF\n\n", b"m 1\n# EOF\nm 2\n", b"m 1\n\n# EOF\n"):
        with pytest.raises(ParseError):
            parse(bad, OM)


def test_text_format_leniency_matches_go() -> None:
    s = one('m { a = "b" , } 3  4 \n')
    assert s.key == 'm { a = "b" , }'
    assert (dict(s.labels), s.value, s.timestamp_ms) == ({"__name__": "m", "a": "b"}, 3.0, 4)
    assert one('m{a="b" c="d"}1').labels == (("__name__", "m"), ("a", "b"), ("c", "d"))
    # A raw newline inside a quoted label value is accepted by Go's text lexer.
    assert dict(one('m{a="x\ny"} 1\n').labels)["a"] == "x\ny"
    # A NUL at the start of a line ends a text exposition cleanly.
    assert len(parse(b"a 1\n\x00junk", TEXT).samples) == 1


def test_quoted_utf8_names() -> None:
    s = one('{"my.metric", "la.bel"="v"} 1\n')
    assert dict(s.labels) == {"__name__": "my.metric", "la.bel": "v"}
    assert one('{"my.metric"} 1\n# EOF\n', OM).labels == (("__name__", "my.metric"),)


def test_invalid_utf8() -> None:
    with pytest.raises(ParseError, match='invalid UTF-8 label value'):
        parse(b'm{a="\xff"} 1\n', TEXT)
    assert len(parse(b"# comment \xff\nm 1\n", TEXT).samples) == 1


def test_cache_reuses_series_and_follows_values() -> None:
    cache = ParseCache()
    first = parse(b'# TYPE m counter\nm{a="1"} 1\nm{a="2"} 2\n', TEXT, cache)
    second = parse(b'# TYPE m counter\nm{a="1"} 10\nm{a="2"} 20 5\n', TEXT, cache)
    assert [s.value for s in second.samples] == [10.0, 20.0]
    assert second.samples[1].timestamp_ms == 5
    assert second.samples[0].labels is first.samples[0].labels
    assert second.metadata["m"].type == "counter"


def test_cache_is_per_format() -> None:
    cache = ParseCache()
    parse(b'm {a="1"} 1\n', TEXT, cache)
    with pytest.raises(ParseError):
        parse(b'm {a="1"} 1\n# EOF\n', OM, cache)


def test_cache_stays_bounded() -> None:
    cache = ParseCache()
    for round_ in range(5):
        body = "".join(f'm{{i="{round_}-{i}"}} 1\n' for i in range(2000)).encode()
        parse(body, TEXT, cache)
    assert len(cache.series) <= 2 * 2000 + 1024
