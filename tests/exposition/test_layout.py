"""Page layouts: a page with the previous scrape's lines and new values is read as one column,
with exactly the reference parser's samples (bit for bit) or its error."""

from __future__ import annotations

import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pharos.metrics.exposition import ExpositionFormat, ParseCache, ParseError, parse, parse_reference
from pharos.metrics.exposition.parser import Columns, parse_columns

TEXT, OM = ExpositionFormat.PROMETHEUS_TEXT, ExpositionFormat.OPENMETRICS
TEMPLATE = {
    TEXT: [
        "# HELP req_total Requests.",
        "# TYPE req_total counter",
        'req_total{code="200",path="/a b"} {}',
        'req_total{code="500",path="}{ x"} {}',
        "# a plain comment",
        "",
        "temperature {}",
        'go_info{version="go1.21"} {}',
    ],
    OM: [
        "# TYPE req counter",
        "# HELP req Requests.",
        'req_total{code="200"} {}',
        "# TYPE temperature gauge",
        "temperature {}",
        'go_info{version="go1.21"} {}',
        "# EOF",
    ],
}
SLOTS = {fmt: sum("{}" in line for line in lines) for fmt, lines in TEMPLATE.items()}


def page(fmt: ExpositionFormat, values: list[str]) -> bytes:
    it = iter(values)
    return (
        "\n".join(line.replace("{}", next(it)) if "{}" in line else line for line in TEMPLATE[fmt]) + "\n"
    ).encode()


def outcome(fn, body: bytes, fmt: ExpositionFormat, cache: ParseCache | None = None) -> object:
    """Samples with value bits, or the error message."""
    try:
        result = fn(body, fmt, cache) if cache is not None else fn(body, fmt)
    except ParseError as err:
        return ("error", str(err))
    rows = [(s.key, s.labels, struct.pack("<d", s.value), s.timestamp_ms, s.exemplar) for s in result.samples]
    return ("ok", rows, result.metadata)


def warm(fmt: ExpositionFormat) -> tuple[ParseCache, Columns]:
    """A cache that has parsed the template with plain values (so it holds its layout)."""
    cache = ParseCache()
    columns = parse_columns(page(fmt, ["1"] * SLOTS[fmt]), fmt, cache)
    assert columns.layout is not None
    return cache, columns


def test_same_lines_reuse_layout_keys_and_metadata() -> None:
    for fmt in (TEXT, OM):
        cache, first = warm(fmt)
        body = page(fmt, ["1.5e+09", "NaN", "-Inf", "0.25"][: SLOTS[fmt]])
        second = parse_columns(body, fmt, cache)
        assert second.layout is first.layout
        assert second.keys is first.keys and second.metadata is first.metadata
        assert outcome(parse, body, fmt, cache) == outcome(parse_reference, body, fmt)


def test_other_lines_get_a_new_layout() -> None:
    cache, first = warm(TEXT)
    lines = page(TEXT, ["2"] * SLOTS[TEXT]).decode().split("\n")
    variants = [
        [line.replace('code="200"', 'code="201"') for line in lines],  # another series
        [line.replace("Requests.", "Requests!") for line in lines],  # another HELP text
        [*lines[:-1], "extra_series 1", ""],  # one more line
        lines[1:],  # one line fewer
    ]
    for variant in variants:
        body = "\n".join(variant).encode()
        columns = parse_columns(body, TEXT, cache)
        assert columns.layout is not None and columns.layout is not first.layout
        assert outcome(parse, body, TEXT, cache) == outcome(parse_reference, body, TEXT)


def test_timestamps_and_exemplars_have_no_layout() -> None:
    cache, _ = warm(TEXT)
    body = page(TEXT, ["1 1700000000000"] * SLOTS[TEXT])
    for _ in range(2):
        columns = parse_columns(body, TEXT, cache)
        assert columns.layout is None and len(columns.timestamps) == SLOTS[TEXT]
    om = b'a_total 1 # {trace="x"} 2\n# EOF\n'
    om_cache = ParseCache()
    for _ in range(2):
        columns = parse_columns(om, OM, om_cache)
        assert columns.layout is None and list(columns.exemplars) == [0]


VALUE_CHARS = "0123456789.eE+-_xpPnaNfIiIty \t}#\x00é"
SPECIAL = [
    "NaN",
    "+Inf",
    "-Inf",
    "Inf",
    "nan",
    "1e999",
    "-1e-400",
    "-0",
    ".5",
    "5.",
    "+.5e-3",
    "1_0",
    "0x1p3",
    "12345678901234567890123456789",
    "0.1000000000000000055511151231257827",
    "4.9e-324",
    "1e",
    "",
    " ",
]
value_texts = st.one_of(
    st.text(alphabet=VALUE_CHARS, max_size=10),
    st.sampled_from(SPECIAL),
    st.floats().map(repr),
    st.integers(-(10**20), 10**20).map(str),
)


@settings(
    max_examples=int(os.environ.get("PHAROS_HYPOTHESIS_EXAMPLES", "400")),
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.sampled_from([TEXT, OM]), st.data())
def test_new_values_agree_with_reference(fmt: ExpositionFormat, data: st.DataObject) -> None:
    values = data.draw(st.lists(value_texts, min_size=SLOTS[fmt], max_size=SLOTS[fmt]))
    body = page(fmt, values)
    cache, _ = warm(fmt)
    assert outcome(parse, body, fmt, cache) == outcome(parse_reference, body, fmt)


def test_one_shot_parses_keep_no_layout() -> None:
    body = page(TEXT, ["1"] * SLOTS[TEXT])
    assert parse_columns(body, TEXT, ParseCache(layouts=False)).layout is None
    assert parse_columns(body, TEXT, ParseCache()).layout is not None
