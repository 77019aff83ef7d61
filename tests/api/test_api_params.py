"""Time and selector parameters parsed as Prometheus parses them."""

from __future__ import annotations

import pytest

from pharos.metrics.api.params import MAX_TIME_MS, MIN_TIME_MS, parse_selector, parse_time
from pharos.metrics.model import MatchOp


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1700000000", 1_700_000_000_000),
        ("1700000000.123", 1_700_000_000_123),
        ("1700000000.1234", 1_700_000_000_123),
        ("1.7e9", 1_700_000_000_000),
        ("-1.5", -1500),
        ("2023-11-14T22:13:20Z", 1_700_000_000_000),
        ("2023-11-14T22:13:20.5Z", 1_700_000_000_500),
        ("2023-11-14T23:13:20.123456789+01:00", 1_700_000_000_123),
        ("-292273086-05-16T16:47:06Z", MIN_TIME_MS),
        ("292277025-08-18T07:12:54.999999999Z", MAX_TIME_MS),
    ],
)
def test_parse_time(text: str, ms: int) -> None:
    assert parse_time(text) == ms


@pytest.mark.parametrize("text", ["x", "2023-11-14", "2023-13-01T00:00:00Z", "1e3x", "now"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=f'cannot parse "{text}" to a valid timestamp'):
        parse_time(text)


def test_parse_selector() -> None:
    [matchers] = parse_selector('up{job="a",x!~"b.*"}')
    assert [(m.name, m.op, m.value) for m in matchers] == [
        ("__name__", MatchOp.EQUAL, "up"),
        ("job", MatchOp.EQUAL, "a"),
        ("x", MatchOp.NOT_REGEX, "b.*"),
    ]
    for bad in ("up{", "sum(up)", "up[1m]", '{a=""}'):
        with pytest.raises(ValueError):
            parse_selector(bad)
