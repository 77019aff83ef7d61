"""The query HTTP API: envelopes, parameters and error types."""

from __future__ import annotations

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pharos.metrics.promql.engine import Limits
from pharos.metrics.promql.http import query_router
from pharos.metrics.promql.memory import MemoryQuerier


def _client(store: MemoryQuerier, limits: Limits | None = None) -> TestClient:
    app = FastAPI()
    app.include_router(query_router(lambda: store, limits))
    return TestClient(app)


def test_instant_vector(store: MemoryQuerier) -> None:
    r = _client(store).get("/api/v1/query", params={"query": "sum(rate(req_total[5m]))", "time": "1800"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "success"
    assert body["data"]["resultType"] == "vector"
    [sample] = body["data"]["result"]
    assert sample["metric"] == {}
    assert sample["value"][0] == 1800
    assert abs(float(sample["value"][1]) - (5 / 15)) < 1e-9


def test_range_query_post(store: MemoryQuerier) -> None:
    data = {"query": "req_total", "start": "600", "end": "900", "step": "60"}
    r = _client(store).post("/api/v1/query_range", data=data)
    body = r.json()
    assert body["data"]["resultType"] == "matrix"
    assert len(body["data"]["result"]) == 2
    assert [p[0] for p in body["data"]["result"][0]["values"]] == [600, 660, 720, 780, 840, 900]


def test_scalar_and_string(store: MemoryQuerier) -> None:
    c = _client(store)
    assert c.get("/api/v1/query", params={"query": "1+1", "time": "10"}).json()["data"] == {
        "resultType": "scalar",
        "result": [10, "2"],
    }
    assert c.get("/api/v1/query", params={"query": '"x"', "time": "10"}).json()["data"] == {
        "resultType": "string",
        "result": [10, "x"],
    }


def test_syntax_error_is_bad_data(store: MemoryQuerier) -> None:
    r = _client(store).get("/api/v1/query", params={"query": "sum(", "time": "1"})
    assert r.status_code == 400
    assert r.json()["errorType"] == "bad_data"


def test_too_many_points(store: MemoryQuerier) -> None:
    params = {"query": "req_total", "start": "0", "end": "100000", "step": "1"}
    r = _client(store).get("/api/v1/query_range", params=params)
    assert r.status_code == 400
    assert "11,000 points" in r.json()["error"]


def test_sample_limit_is_execution_error(store: MemoryQuerier) -> None:
    c = _client(store, Limits(max_samples=100))
    params = {"query": "req_total", "start": "0", "end": "3600", "step": "15"}
    r = c.get("/api/v1/query_range", params=params)
    assert r.status_code == 422
    assert r.json()["errorType"] == "execution"
    assert "too many samples" in r.json()["error"]


def test_limit_truncates(store: MemoryQuerier) -> None:
    r = _client(store).get("/api/v1/query", params={"query": "req_total", "time": "60", "limit": "1"})
    body = r.json()
    assert len(body["data"]["result"]) == 1
    assert body["warnings"]


def test_format_and_parse_query(store: MemoryQuerier) -> None:
    c = _client(store)
    assert (
        c.get("/api/v1/format_query", params={"query": "sum(foo)by(a)"}).json()["data"] == "sum by (a) (foo)"
    )
    ast = c.get("/api/v1/parse_query", params={"query": "rate(foo[5m])"}).json()["data"]
    assert ast["type"] == "call"
    assert ast["args"][0]["type"] == "matrixSelector"


def test_format_floats_matches_format_float() -> None:
    from pharos.metrics.promql.http import format_float, format_floats

    rng = np.random.default_rng(0)
    edges = [0.0, -0.0, 1e16, 9999999999999998.0, 1e-4, 9.99e-5, -1e-4, 1e21, float("nan"), float("inf")]
    vals = np.concatenate([rng.normal(0, 1e3, 2000), np.round(rng.normal(0, 1e5, 500)), edges])
    vals = np.concatenate([vals, 10.0 ** rng.uniform(-10, 25, 2000) * rng.choice([-1, 1], 2000)])
    for arr in (vals, vals[:0], np.array([3.0]), np.array([float("-inf"), 2.5])):
        assert format_floats(arr) == [format_float(v) for v in arr.tolist()]
