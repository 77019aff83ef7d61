"""LogQL features; expected values follow from how the input is built, not from the engine."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from pharos.logs.engine import Engine, Matrix
from pharos.logs.logql import parse
from pharos.storage.logs import StreamWrite

NS = 1_000_000_000
T0 = 1_700_000_000 * NS  # lines at T0 + i s, i = 1..60
N = 60
LEVELS = ["info", "warn", "error"]


def _json_line(i: int) -> str:
    return orjson.dumps({"level": LEVELS[i % 3], "latency_ms": i * 10, "dur": f"{i}ms", "size": f"{i}KB",
                         "user": {"id": f"u{i % 2}"}, "msg": f"request {i}"}).decode()


@pytest.fixture
def engine(store):
    ts = np.array([T0 + i * NS for i in range(1, N + 1)], dtype=np.int64)
    store.append("fake", [
        StreamWrite({"app": "api", "env": "prod"}, ts, [_json_line(i) for i in range(1, N + 1)]),
        StreamWrite({"app": "web", "env": "prod"}, ts,
                    [f'level={LEVELS[i % 3]} status={200 + (i % 2) * 300} path="/p {i}" ip=10.0.0.{i}'
                     for i in range(1, N + 1)]),
        StreamWrite({"app": "raw", "env": "dev"}, ts[:10], [f"GET /item/{i} took {i}s" for i in range(1, 11)],
                    [orjson.dumps({"trace": f"t{i}"}).decode() for i in range(1, 11)]),
    ])
    return Engine(store)


def lines(engine: Engine, q: str, limit: int = 1000, direction: str = "forward") -> list[tuple[dict, str]]:
    res = engine.logs("fake", parse(q), T0, T0 + (N + 1) * NS, limit, direction)
    rows = [(int(t), lb, ln) for lb, ts, ls in res.streams for t, ln in zip(ts, ls, strict=True)]
    rows.sort(key=lambda r: r[0], reverse=direction == "backward")
    return [(lb, ln) for _, lb, ln in rows]


def instant(engine: Engine, q: str, at: int = T0 + N * NS) -> dict[tuple, float]:
    m = engine.metric("fake", parse(q), at, at, NS)
    assert isinstance(m, Matrix)
    return {tuple(sorted(lb.items())): float(v[0]) for lb, v in m.series if not math.isnan(v[0])}


def test_line_filters(engine):
    assert len(lines(engine, '{app="raw"} |= "took 1"')) == 2  # 1 and 10
    assert len(lines(engine, '{app="raw"} != "took 1"')) == 8
    assert [x[1] for x in lines(engine, '{app="raw"} |~ "item/[2-3] "')] == ["GET /item/2 took 2s", "GET /item/3 took 3s"]
    assert len(lines(engine, '{app="raw"} !~ "item/[2-3] "')) == 8
    assert len(lines(engine, '{app="raw"} |= "item/4 " or "item/5 "')) == 2
    assert len(lines(engine, '{app="raw"} |~ "(?i)GET /ITEM/7 "')) == 1
    assert len(lines(engine, '{app="raw"} |> "GET <_> took 3s"')) == 1


def test_ip_filter(engine):
    got = lines(engine, '{app="web"} |= ip("10.0.0.1-10.0.0.3")')
    assert len(got) == 3


def test_limit_and_direction(engine):
    got = lines(engine, '{app="raw"}', limit=3, direction="backward")
    assert [x[1] for x in got] == [f"GET /item/{i} took {i}s" for i in (10, 9, 8)]
    got = lines(engine, '{app="api"} | json | level="error"', limit=2, direction="forward")
    assert [orjson.loads(x[1])["latency_ms"] for x in got] == [20, 50]  # level "error" at i % 3 == 2


def test_json_parser_and_filters(engine):
    got = lines(engine, '{app="api"} | json | level="error"')
    assert len(got) == N // 3
    lb = got[0][0]
    assert lb["user_id"] == "u0" and lb["latency_ms"] == "20" and lb["app"] == "api"
    assert len(lines(engine, '{app="api"} | json | latency_ms > 500')) == 10  # 510..600
    assert len(lines(engine, '{app="api"} | json | latency_ms >= 100 and latency_ms <= 150')) == 6
    assert len(lines(engine, '{app="api"} | json | dur > 55ms')) == 5
    assert len(lines(engine, '{app="api"} | json | size <= 3KB')) == 3
    assert len(lines(engine, '{app="api"} | json | level="info" or level="warn"')) == 40
    got = lines(engine, '{app="api"} | json lvl="level", uid="user.id" | keep lvl, uid')
    assert got[0][0] == {"lvl": "warn", "uid": "u1"}


def test_logfmt_regexp_pattern(engine):
    got = lines(engine, '{app="web"} | logfmt | status=500')
    assert len(got) == 30 and got[0][0]["path"] == "/p 1"
    got = lines(engine, '{app="raw"} | regexp "item/(?P<id>\\\\d+) took (?P<secs>\\\\d+)s" | id > 8')
    assert [x[0]["secs"] for x in got] == ["9", "10"]
    got = lines(engine, '{app="raw"} | pattern "<method> /item/<id> took <_>" | id="4"')
    assert got[0][0]["method"] == "GET" and len(got) == 1


def test_formatting_drop_keep(engine):
    got = lines(engine, '{app="raw"} | regexp "item/(?P<id>\\\\d+)" | line_format "{{.id | printf \\"%03s\\"}}-{{ToUpper .app}}"')
    assert got[0][1] == "  1-RAW"
    got = lines(engine, '{app="raw"} | label_format who=app, tag="{{.env}}!" | drop env')
    assert got[0][0] == {"who": "raw", "tag": "dev!", "trace": "t1"}
    got = lines(engine, '{app="raw"} | keep app')
    assert got[0][0] == {"app": "raw"}
    got = lines(engine, '{app="raw"} | line_format "{{ if eq .trace \\"t2\\" }}two{{ else }}{{ trunc 3 __line__ }}{{ end }}"')
    assert [x[1] for x in got[:2]] == ["GET", "two"]
    got = lines(engine, '{app="raw"} | line_format "{{ default \\"none\\" .missing }} {{ replace \\"GET\\" \\"PUT\\" __line__ }}"')
    assert got[0][1] == "none PUT /item/1 took 1s"


def test_error_label(engine):
    got = lines(engine, '{app="web"} | json')
    assert all(x[0]["__error__"] == "JSONParserErr" for x in got)
    assert lines(engine, '{app="web"} | json | __error__=""') == []
    assert len(lines(engine, '{app="web"} | json | __error__!=""')) == N


def test_count_rate_bytes(engine):
    q = 'count_over_time({env="prod"}[10s])'
    got = instant(engine, q)
    assert got == {(("app", "api"), ("env", "prod")): 10.0, (("app", "web"), ("env", "prod")): 10.0}
    # structured metadata (a unique trace per line) is part of each series' labels
    got = instant(engine, 'rate({app="raw"}[10s])', at=T0 + 10 * NS)
    assert len(got) == 10 and set(got.values()) == {0.1}
    got = instant(engine, 'sum by (app) (rate({app="raw"}[10s]))', at=T0 + 10 * NS)
    assert got == {(("app", "raw"),): 1.0}
    expected = sum(len(f"GET /item/{i} took {i}s") for i in range(1, 11))
    got = instant(engine, 'sum(bytes_over_time({app="raw"}[1m]))', at=T0 + 10 * NS)
    assert list(got.values()) == [float(expected)]
    got = instant(engine, 'sum(bytes_rate({app="raw"}[10s]))', at=T0 + 10 * NS)
    assert list(got.values()) == [expected / 10]


def test_unwrap_aggregations(engine):
    # window (T0+50s, T0+60s] holds i = 51..60, latency_ms = 10 i
    vals = [10.0 * i for i in range(51, 61)]
    base = '{app="api"} | json | unwrap latency_ms [10s]'
    # without grouping every parsed label set (msg differs per line) is its own series
    assert len(instant(engine, f"sum_over_time({base})")) == 10
    one = {(("app", "api"),)}
    for op, want in [("sum", sum(vals)), ("avg", sum(vals) / 10), ("min", 510.0), ("max", 600.0),
                     ("first", 510.0), ("last", 600.0), ("stdvar", float(np.var(vals))),
                     ("stddev", float(np.std(vals)))]:
        got = instant(engine, f"{op}_over_time({base}) by (app)")
        assert set(got) == one and list(got.values()) == [pytest.approx(want)], op
    assert list(instant(engine, f"quantile_over_time(0.5, {base}) by (app)").values()) == [555.0]
    got = instant(engine, 'sum_over_time({app="api"} | json | unwrap duration(dur) [10s]) by (app)')
    assert list(got.values()) == [pytest.approx(sum(vals) / 10 / 1000)]
    got = instant(engine, 'sum_over_time({app="api"} | json | unwrap bytes(size) [10s]) by (app)')
    assert list(got.values()) == [sum(vals) / 10 * 1000]
    got = instant(engine, 'rate({app="api"} | json | unwrap latency_ms [10s]) by (app)')
    assert list(got.values()) == [sum(vals) / 10]
    got = instant(engine, f"sum_over_time({base}) by (level)")
    assert got == {(("level", "info"),): 510 + 540 + 570 + 600.0, (("level", "warn"),): 520 + 550 + 580.0,
                   (("level", "error"),): 530 + 560 + 590.0}


def test_unwrap_error_needs_filter(engine):
    from pharos.logs.engine import QueryError

    with pytest.raises(QueryError, match="SampleExtractionErr"):
        instant(engine, 'sum_over_time({app="api"} | json | unwrap msg [10s])')
    assert instant(engine, 'sum_over_time({app="api"} | json | unwrap msg | __error__="" [10s])') == {}


def test_vector_aggregations(engine):
    assert instant(engine, 'sum(count_over_time({env="prod"}[1m]))') == {(): 120.0}
    got = instant(engine, 'sum by (level) (count_over_time({app="api"} | json [1m]))')
    assert got == {(("level", lv),): 20.0 for lv in LEVELS}
    got = instant(engine, 'topk(1, sum by (level) (sum_over_time({app="api"} | json | unwrap latency_ms [1m])))')
    assert got == {(("level", "info"),): float(sum(10 * i for i in range(3, 61, 3)))}
    got = instant(engine, 'bottomk(1, sum by (level) (sum_over_time({app="api"} | json | unwrap latency_ms [1m])))')
    assert got == {(("level", "warn"),): float(sum(10 * i for i in range(1, 61, 3)))}
    # series: api, web (60 lines each) and raw split by its unique trace metadata (1 line each)
    assert instant(engine, 'count(count_over_time({env=~".+"}[1m]))') == {(): 12.0}
    assert instant(engine, 'max(count_over_time({env=~".+"}[1m]))') == {(): 60.0}
    assert instant(engine, 'min(count_over_time({env=~".+"}[1m]))') == {(): 1.0}
    assert instant(engine, 'avg(count_over_time({env=~".+"}[1m]))') == {(): pytest.approx(130 / 12)}
    got = instant(engine, 'sum without (app) (count_over_time({env="prod"}[1m]))')
    assert got == {(("env", "prod"),): 120.0}


def test_binary_ops_and_offset(engine):
    got = instant(engine, 'sum(count_over_time({app="api"}[10s])) / sum(count_over_time({app="raw"}[1m]))',
                  at=T0 + 10 * NS)
    assert got == {(): 1.0}
    got = instant(engine, 'sum(count_over_time({app="api"}[10s])) * 2 + 1')
    assert got == {(): 21.0}
    got = instant(engine, 'count_over_time({env="prod"}[1m]) > 59')
    assert len(got) == 2
    got = instant(engine, 'count_over_time({app="api"}[1m]) > bool 100')
    assert list(got.values()) == [0.0]
    got = instant(engine, 'count_over_time({app="api"}[10s] offset 55s)')
    assert list(got.values()) == [5.0]  # window (T0-5s, T0+5s] -> i = 1..5
    got = instant(engine, 'sum(count_over_time({app="api"}[1m])) or vector(0)')
    assert got == {(): 60.0}
    got = instant(engine, 'sum(count_over_time({app="nothing"}[1m])) or vector(0)')
    assert got == {(): 0.0}
    got = instant(engine, 'label_replace(sum by (app) (count_over_time({app="raw"}[1m])), "x", "$1", "app", "(r).*")')
    assert list(got) == [(("app", "raw"), ("x", "r"))]


def test_range_query_steps(engine):
    m = engine.metric("fake", parse('sum(count_over_time({app="raw"}[5s]))'), T0 + 5 * NS, T0 + 20 * NS, 5 * NS)
    assert isinstance(m, Matrix)
    ((_, vals),) = m.series
    assert vals[:2].tolist() == [5.0, 5.0] and np.isnan(vals[2:]).all()


def test_structured_metadata_as_labels(engine):
    got = lines(engine, '{app="raw"} | trace=~"t[12]"')
    assert [x[0]["trace"] for x in got] == ["t1", "t2"]
    got = instant(engine, 'sum by (trace) (count_over_time({app="raw"} | trace="t3" [1m]))')
    assert got == {(("trace", "t3"),): 1.0}
