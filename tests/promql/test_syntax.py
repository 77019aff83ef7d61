"""Durations and the quote-aware scan shared by the query API, promqltest and the CLI."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pharos.metrics.promql.syntax import duration_ms, unquoted

UNIT_MS = {
    "y": 31_536_000_000,
    "w": 604_800_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNIT_MS))), min_size=1, max_size=5))
def test_whole_parts_add_up(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{n}{unit}" for n, unit in parts)
    assert duration_ms(text) == sum(n * UNIT_MS[unit] for n, unit in parts)


@given(st.text(alphabet="0123456789.msdhwy -x", max_size=12))
def test_accepts_only_number_unit_runs(text: str) -> None:
    got = duration_ms(text)
    if got is not None:
        assert text and text[0].isdigit() and text[-1] in "mshdwy" and "." not in text


def test_fractions_only_when_allowed() -> None:
    assert duration_ms("1.5m") is None
    assert duration_ms("1.5m", fractions=True) == 90_000
    assert duration_ms("1h0.25s", fractions=True) == 3_600_250


def test_not_durations() -> None:
    for text in ("", "5", "m", "5x", "1h 2m", "-1s", "1s2"):
        assert duration_ms(text) is None, text


def test_unquoted_skips_string_literals_and_escapes() -> None:
    text = 'f("a,\\"b", `c)`, \'d\') , x'
    assert "".join(c for _, c in unquoted(text)) == "f(, , ) , x"
    assert [i for i, c in unquoted(text, 2) if c == ","] == [9, 15, 22]
