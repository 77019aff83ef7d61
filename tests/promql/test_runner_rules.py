"""The promqltest runner: skips follow the data read, never the outcome; Go string escapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pharos.metrics.promql.engine import Engine
from pharos.metrics.promql.gostrings import decode_byte_escapes, go_quote, valid_name
from pharos.metrics.promql.memory import MemoryQuerier
from pharos.metrics.promql.promqltest import run_file, split_histogram_values
from pharos.metrics.promql.values import PromQLError

SCRIPT = """
load 1m
    floats 1 2 3
    mixed 1 2 {{schema:0 sum:1 count:1}}x1

# reads no histogram, fails: counted as a failure
eval instant at 1m floats
    floats 99

# reads a histogram sample, passes or not: skipped
eval instant at 2m mixed
    {} 2

# reads only the float part of the mixed series: evaluated
eval instant at 0m mixed
    mixed 1
"""


def test_skip_depends_on_data_not_outcome(tmp_path: Path) -> None:
    path = tmp_path / "rules.test"
    path.write_text(SCRIPT)
    passed, failed, skipped, failures = run_file(path)
    assert (passed, failed, skipped) == (1, 1, 1), failures


def test_split_histogram_values() -> None:
    floats, hist = split_histogram_values("1 _ {{schema:0 sum:1 count:1}}x2 4")
    assert floats == [1.0, None, None, None, None, 4.0]
    assert hist == [2, 3, 4]


def test_byte_escapes_decode_as_go() -> None:
    assert decode_byte_escapes(r'f("a\xc3\xa9")') == 'f("aé")'
    bad = decode_byte_escapes(r'f("a\xc5z")')
    name = bad[3:-2]
    assert not valid_name(name)
    assert go_quote(name) == r'"a\xc5z"'
    assert decode_byte_escapes(r"f(`a\xc5`)") == r"f(`a\xc5`)"


def test_invalid_label_name_rejected() -> None:
    engine = Engine(MemoryQuerier())
    with pytest.raises(PromQLError, match=r'invalid label name "a\\xc5z"'):
        engine.instant(r'count_values("a\xc5z", vector(1))', 0)
