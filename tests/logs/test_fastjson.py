"""The vectorised `sum by (...) (count_over_time(... | json [r]))` path: results follow from how
the input is built, and match the per-line evaluator (forced by disabling the fast path)."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from pharos.logs import fastjson
from pharos.logs.engine import Engine, QueryError
from pharos.logs.logql import parse
from pharos.storage.logs import StreamWrite

NS = 1_000_000_000
T0 = 1_700_000_000 * NS
DOCS = [{"level": "info", "n": 1}, {"level": "warn"}, {"level": None}, {"level": 2.50}, {"level": True},
        {"level": {"x": 1}}, {"other": 1}, {"level": "info", "msg": "needle"}, {"level": ["a"]}, {"level": "e\u00e9"}]


@pytest.fixture
def engine(store):
    ts = np.array([T0 + (i + 1) * NS for i in range(len(DOCS))], dtype=np.int64)
    lines = [orjson.dumps(d).decode() for d in DOCS]
    store.append("fake", [StreamWrite({"app": "a"}, ts, lines),
                          StreamWrite({"app": "b", "level": "stream"}, ts, lines)])
    return Engine(store)


def _run(engine: Engine, q: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> dict[tuple, list[float]]:
    monkeypatch.setattr(fastjson, "applies", _applies if fast else (lambda e: False))
    m = engine.metric("fake", parse(q), T0 + 10 * NS, T0 + 10 * NS, NS)
    return {tuple(sorted(lb.items())): [float(v) for v in vals] for lb, vals in m.series}


_applies = fastjson.applies


def test_fast_path_applies_only_to_its_shape():
    assert fastjson.applies(parse('sum by (level) (count_over_time({app="a"} |= "x" | json [5m]))'))
    for q in ['sum without (level) (count_over_time({app="a"} | json [5m]))',
              'sum by (level) (count_over_time({app="a"} | json | level="x" [5m]))',
              'sum by (status_code) (count_over_time({app="a"} | json [5m]))',
              'sum by (level) (count_over_time({app="a"} | json level="lvl" [5m]))',
              'max by (level) (count_over_time({app="a"} | json [5m]))',
              'sum by (level) (avg_over_time({app="a"} | json | unwrap n [5m]))']:
        assert not fastjson.applies(parse(q)), q


@pytest.mark.parametrize("q", [
    'sum by (level) (count_over_time({app=~"a|b"} | json [1m]))',
    'sum by (level, app) (bytes_over_time({app=~"a|b"} | json [1m]))',
    'sum by (level) (rate({app="a"} |= "info" | json [1m]))',
])
def test_fast_path_matches_the_per_line_pipeline(engine, monkeypatch, q):
    assert _run(engine, q, True, monkeypatch) == _run(engine, q, False, monkeypatch)


def test_fast_path_values_by_construction(engine, monkeypatch):
    q = parse('sum by (level) (count_over_time({app=~"a|b"} | json [1m]))')
    assert fastjson.sum_by_json(engine, "fake", q, np.array([T0 + 10 * NS])) is not None  # no fallback
    got = _run(engine, 'sum by (level) (count_over_time({app=~"a|b"} | json [1m]))', True, monkeypatch)
    # stream b has its own `level` label, which wins over the JSON field
    assert got == {(("level", "info"),): [2.0], (("level", "warn"),): [1.0], (("level", ""),): [1.0],
                   (("level", "2.5"),): [1.0], (("level", "true"),): [1.0], (("level", "e\u00e9"),): [1.0],
                   (): [3.0], (("level", "stream"),): [10.0]}


def test_non_json_line_falls_back_to_the_pipeline_error(engine, store, monkeypatch):
    store.append("fake", [StreamWrite({"app": "a"}, np.array([T0 + 5 * NS + 1]), ["not json"])])
    with pytest.raises(QueryError, match="JSONParserErr"):
        _run(engine, 'sum by (level) (count_over_time({app="a"} | json [1m]))', True, monkeypatch)


def test_pipeline_line_limit_is_a_clear_error(engine, monkeypatch):
    import pharos.logs.engine as E

    monkeypatch.setattr(E, "MAX_PIPELINE_LINES", 5)
    with pytest.raises(QueryError, match="pipeline would run over 20 lines"):
        engine.metric("fake", parse('count_over_time({app=~"a|b"} | json [1m])'), T0 + 10 * NS, T0 + 10 * NS, NS)
