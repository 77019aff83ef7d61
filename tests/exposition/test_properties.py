"""Property tests: round trips, garbage, and the fast path agreeing with the reference parser."""

from __future__ import annotations

import contextlib
import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pharos.metrics.exposition import ExpositionFormat, ParseCache, ParseError, parse, parse_reference
from pharos.metrics.model import escape_label_value, make_labels

TEXT, OM = ExpositionFormat.PROMETHEUS_TEXT, ExpositionFormat.OPENMETRICS
FORMATS = st.sampled_from([TEXT, OM])

names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
label_names = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_]{0,8}", fullmatch=True)
label_values = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**12), 10**12).map(float))
series = st.tuples(names, st.dictionaries(label_names, label_values, max_size=4))
families = st.lists(st.tuples(series, values, st.none() | st.integers(0, 2**40)), min_size=1, max_size=20)


def render_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v)


def render(rows: list, fmt: ExpositionFormat) -> str:
    lines = []
    for (name, labels), value, ts in rows:
        inner = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())
        line = f"{name}{{{inner}}} {render_value(value)}" if labels else f"{name} {render_value(value)}"
        if ts is not None:
            line += f" {ts}" if fmt is TEXT else f" {ts / 1000!r}"
        lines.append(line)
    if fmt is OM:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@given(families, FORMATS)
def test_round_trip(rows: list, fmt: ExpositionFormat) -> None:
    body = render(rows, fmt).encode()
    cache = ParseCache()
    for _ in range(2):  # cold, then through the cache
        samples = parse(body, fmt, cache).samples
        assert len(samples) == len(rows)
        for sample, ((name, labels), value, ts) in zip(samples, rows, strict=True):
            assert sample.labels == make_labels({"__name__": name, **labels})
            assert same_value(sample.value, value)
            if fmt is TEXT:
                assert sample.timestamp_ms == ts
            else:
                assert sample.timestamp_ms == (None if ts is None else int(ts / 1000 * 1000))


@given(st.binary(max_size=200), FORMATS)
def test_garbage_only_raises_parse_error(body: bytes, fmt: ExpositionFormat) -> None:
    with contextlib.suppress(ParseError):
        parse(body, fmt)


# Lines built from the pieces the lexers care about, so that odd corners are hit often.
PIECES = ["m", "m_total", "a", "b", "{", "}", "=", ",", '"', '"v"', '"x y"', '"\\"', "\\", " ", "  ", "\t",
          "1", "-2.5", "1e3", "NaN", "+Inf", "-Inf", "inf", "1_0", "0x1p3", "#", "# ", "# EOF", "HELP",
          "TYPE", "UNIT", "counter", "gauge", "untyped", "\n", "\x00", "\udcff", "é", "17", "1.5", ":", "{}"]
fragments = st.lists(st.sampled_from(PIECES), max_size=14).map("".join)
bodies = st.lists(fragments, min_size=1, max_size=5).map("\n".join)


def outcome(fn, body: bytes, fmt: ExpositionFormat, cache: ParseCache | None = None) -> object:
    try:
        result = fn(body, fmt, cache) if cache is not None else fn(body, fmt)
    except ParseError as err:
        return ("error", str(err))
    rows = [(s.key, s.labels, repr(s.value), s.timestamp_ms, s.exemplar) for s in result.samples]
    return ("ok", rows, result.metadata)


@settings(max_examples=int(os.environ.get("PHAROS_HYPOTHESIS_EXAMPLES", "400")), suppress_health_check=[HealthCheck.too_slow])
@given(bodies, st.booleans(), FORMATS, st.lists(fragments, max_size=4))
def test_fast_path_agrees_with_reference(text: str, eof: bool, fmt: ExpositionFormat, warm: list[str]) -> None:
    body = (text + ("\n# EOF\n" if eof else "")).encode("utf-8", "surrogateescape")
    expected = outcome(parse_reference, body, fmt)
    assert outcome(parse, body, fmt) == expected
    # Warm a cache with other lines first (as earlier scrapes would), then parse through it.
    cache = ParseCache()
    for line in warm + text.split("\n"):
        try:
            parse(f"{line}\n".encode("utf-8", "surrogateescape"), fmt, cache)
            parse(f"{line} 1\n".encode("utf-8", "surrogateescape"), fmt, cache)
        except ParseError:
            pass
    assert outcome(parse, body, fmt, cache) == expected


number_texts = st.text(alphabet="0123456789.eE+-_xpPnaNfIiIty \t\u0661", min_size=0, max_size=8)


@settings(max_examples=int(os.environ.get("PHAROS_HYPOTHESIS_EXAMPLES", "400")))
@given(number_texts, st.none() | number_texts, FORMATS)
def test_cached_value_checks_match_go(value: str, ts: str | None, fmt: ExpositionFormat) -> None:
    line = f'm{{a="b"}} {value}' + ("" if ts is None else f" {ts}")
    body = (line + "\n" + ("# EOF\n" if fmt is OM else "")).encode()
    cache = ParseCache()
    parse(b'm{a="b"} 1\n# EOF\n' if fmt is OM else b'm{a="b"} 1\n', fmt, cache)
    assert outcome(parse, body, fmt, cache) == outcome(parse_reference, body, fmt)
    assert outcome(parse, body, fmt) == outcome(parse_reference, body, fmt)
