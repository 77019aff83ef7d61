"""LogQL parser: generated valid queries parse; garbage gives ParseError, never another exception."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pharos.logs.logql import ParseError, parse
from pharos.logs.logql import ast as A

names = st.sampled_from(["app", "job", "level", "namespace", "pod", "status", "x_1"])
values = st.text(alphabet="abcxyz019 -_./", min_size=1, max_size=8)
strings = values.map(lambda v: '"' + v + '"')
durations = st.sampled_from(["1s", "30s", "5m", "1h", "1h30m", "500ms", "2d"])


@st.composite
def selectors(draw: st.DrawFn) -> str:
    first = f'{draw(names)}="{draw(values)}"'
    more = draw(st.lists(st.tuples(names, st.sampled_from(["=", "!=", "=~", "!~"]), values), max_size=2))
    return "{" + ", ".join([first] + [f'{n}{op}"{v}"' for n, op, v in more]) + "}"


@st.composite
def stages(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        op = draw(st.sampled_from(["|=", "!=", "|~", "!~"]))
        alts = draw(st.lists(strings, min_size=1, max_size=3))
        return f" {op} " + " or ".join(alts)
    if kind == 1:
        return draw(st.sampled_from([" | json", " | logfmt", " | logfmt --strict", " | unpack", ' | json a="b.c"']))
    if kind == 2:
        return ' | regexp "(?P<v>\\\\w+)"'
    if kind == 3:
        return ' | pattern "<a> <_>"'
    if kind == 4:
        return f" | {draw(names)} {draw(st.sampled_from(['>', '>=', '<', '<=', '==', '!=']))} {draw(st.integers(0, 999))}"
    if kind == 5:
        return f" | {draw(names)}={draw(strings)} or {draw(names)} > {draw(durations)}"
    if kind == 6:
        return ' | line_format "{{.app | ToUpper}} {{ printf \\"%s\\" .job }}"'
    if kind == 7:
        return f" | label_format {draw(names)}=app"
    if kind == 8:
        # a bare trailing name would swallow a following `!= "x"` as a drop matcher (as in Loki's grammar)
        return f' | drop {draw(names)}, __error__=""'
    return f" | {draw(names)} > 10KB"


@st.composite
def log_queries(draw: st.DrawFn) -> str:
    return draw(selectors()) + "".join(draw(st.lists(stages(), max_size=4)))


@st.composite
def metric_queries(draw: st.DrawFn) -> str:
    op = draw(st.sampled_from(["rate", "count_over_time", "bytes_rate", "bytes_over_time", "sum_over_time",
                               "avg_over_time", "quantile_over_time"]))
    sel = draw(log_queries())
    rng = f"[{draw(durations)}]"
    if op in ("sum_over_time", "avg_over_time", "quantile_over_time"):
        sel += f" | unwrap {draw(names)}"
    q = f"{op}({'0.9, ' if op == 'quantile_over_time' else ''}{sel} {rng})"
    if draw(st.booleans()):
        agg = draw(st.sampled_from(["sum", "avg", "min", "max", "count", "topk(3,", "bottomk(2,"]))
        grouping = draw(st.sampled_from(["", " by (app)", " without (job)"]))
        q = f"{agg}{grouping} ({q})" if not agg.endswith(",") else f"{agg} {q})"
    if draw(st.booleans()):
        q = f"{q} {draw(st.sampled_from(['+', '/', '>', 'or', 'and', '> bool']))} {draw(st.sampled_from(['1', q]))}"
    return q


@settings(max_examples=200, deadline=None)
@given(log_queries())
def test_generated_log_queries_parse(q: str) -> None:
    assert isinstance(parse(q), A.LogExpr)


@settings(max_examples=200, deadline=None)
@given(metric_queries())
def test_generated_metric_queries_parse(q: str) -> None:
    assert not isinstance(parse(q), A.LogExpr)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet='{}()[]|=!~"`,.<>+-*/^ abcjsonlgfmtrwpu0159smhKB\\', max_size=40))
def test_garbage_gives_parse_error(text: str) -> None:
    try:
        parse(text)
    except ParseError as exc:
        assert str(exc).startswith("parse error")


@settings(max_examples=200, deadline=None)
@given(log_queries(), st.integers(0, 60), st.text(alphabet='{}()|="!~ ,[]', min_size=1, max_size=3))
def test_corrupted_queries_never_crash(q: str, pos: int, junk: str) -> None:
    broken = q[:pos] + junk + q[pos:]
    with contextlib.suppress(ParseError):
        parse(broken)


@pytest.mark.parametrize("q, msg", [
    ('{app=~".*"}', "queries require at least one regexp or equality matcher"),
    ("{}", "queries require at least one regexp"),
    ('{app="a"', "parse error at line 1, col 9"),
    ('sum_over_time({app="a"}[5m])', "invalid aggregation sum_over_time without unwrap"),
    ('{app="a"} | regexp "no group"', "at least one named capture"),
    ('rate({app="a"})', "range"),
    ('{app="a"} | line_format "{{ .x"', "invalid line template"),
])
def test_error_messages(q: str, msg: str) -> None:
    with pytest.raises(ParseError, match=None) as info:
        parse(q)
    assert msg in str(info.value)
