"""The shared metrics vocabulary: label sets, matchers, staleness markers."""

import math
import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pharos.metrics.model import (
    STALE_NAN,
    Matcher,
    MatchOp,
    format_labels,
    is_stale_marker,
    label_value,
    make_labels,
)


def test_make_labels_sorts_and_drops_empty_values():
    labels = make_labels({"job": "node", "__name__": "up", "instance": "", "a": "1"})
    assert labels == (("__name__", "up"), ("a", "1"), ("job", "node"))


def test_label_value_of_missing_label_is_empty():
    labels = make_labels({"__name__": "up"})
    assert label_value(labels, "job") == ""


def test_format_labels_like_prometheus():
    labels = make_labels({"__name__": "up", "job": 'a"b\\c\nd'})
    assert format_labels(labels) == 'up{job="a\\"b\\\\c\\nd"}'


@pytest.mark.parametrize(
    ("op", "pattern", "value", "expected"),
    [
        (MatchOp.EQUAL, "a", "a", True),
        (MatchOp.NOT_EQUAL, "a", "a", False),
        (MatchOp.REGEX, "a.*", "abc", True),
        (MatchOp.REGEX, "b", "abc", False),  # fully anchored: no substring match
        (MatchOp.REGEX, "a|b", "b", True),  # anchoring wraps the whole alternation
        (MatchOp.NOT_REGEX, "a.*", "xabc", True),
        (MatchOp.REGEX, ".*", "", True),
        (MatchOp.REGEX, "a.c", "a\nc", True),  # Prometheus compiles with (?s)
    ],
)
def test_matcher_semantics(op, pattern, value, expected):
    assert Matcher("job", op, pattern).matches(value) is expected


def test_invalid_regex_raises():
    with pytest.raises(re.error):
        Matcher("job", MatchOp.REGEX, "a(")


def test_stale_marker_is_the_prometheus_bit_pattern():
    assert struct.pack("<d", STALE_NAN) == struct.pack("<Q", 0x7FF0000000000002)
    assert is_stale_marker(STALE_NAN)
    assert not is_stale_marker(math.nan)
    assert not is_stale_marker(1.0)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=6))
def test_make_labels_is_canonical(pairs):
    labels = make_labels(pairs)
    assert list(labels) == sorted(labels)
    assert dict(labels) == {k: v for k, v in pairs.items() if v}
    assert make_labels(list(reversed(list(pairs.items())))) == labels
