"""The query API over real HTTP: stats=all, parse errors with positions, the sample limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from promql_server import serve

from pharos.metrics.promql.engine import Limits
from pharos.metrics.promql.memory import MemoryQuerier


@pytest.fixture
def url(store: MemoryQuerier) -> Iterator[str]:
    with serve(store, Limits(max_samples=1000)) as base:
        yield base


def test_stats_all_instant_and_range(url: str) -> None:
    r = httpx.get(
        f"{url}/api/v1/query", params={"query": "sum(rate(req_total[5m]))", "time": "1800", "stats": "all"}
    )
    stats = r.json()["data"]["stats"]
    assert set(stats["timings"]) == {
        "evalTotalTime",
        "resultSortTime",
        "queryPreparationTime",
        "innerEvalTime",
        "execQueueTime",
        "execTotalTime",
    }
    assert stats["samples"]["totalQueryableSamples"] == 2 * 20  # two series, 20 samples in 5m
    assert stats["samples"]["peakSamples"] > 0
    params = {"query": "req_total", "start": "600", "end": "900", "step": "60", "stats": "all"}
    body = httpx.post(f"{url}/api/v1/query_range", data=params).json()
    assert body["data"]["stats"]["samples"]["totalQueryableSamples"] > 0
    plain = httpx.get(f"{url}/api/v1/query", params={"query": "1", "time": "1"}).json()
    assert "stats" not in plain["data"]


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("sum(", "1:5: parse error: unclosed left parenthesis"),
        ("1 +* 2", "1:4: parse error: unexpected <op:*>"),
        ("x y", 'unexpected identifier "y"'),
        (
            "rate(foo)",
            '1:6: parse error: expected type range vector in call to function "rate", got instant vector',
        ),
        ("sum(x) by (a) without (b)", "1:15: parse error: unexpected <without>"),
        ("a +\n  b c", '2:5: parse error: unexpected identifier "c"'),
    ],
)
def test_syntax_error_position(url: str, query: str, error: str) -> None:
    r = httpx.get(f"{url}/api/v1/query", params={"query": query, "time": "1"})
    assert r.status_code == 400
    body = r.json()
    assert body["errorType"] == "bad_data"
    assert body["error"].startswith('invalid parameter "query": ')
    assert error in body["error"]


def test_sample_limit_error(url: str) -> None:
    params = {"query": "sum(req_total)", "start": "0", "end": "3600", "step": "1"}
    r = httpx.get(f"{url}/api/v1/query_range", params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["errorType"] == "execution"
    assert body["error"] == "query processing would load too many samples into memory in query execution"
