"""Query APIs answer in Loki's JSON shapes (requests shaped as Grafana sends them)."""

from __future__ import annotations

import httpx
from loghelp import NS, now_ns


def _seed(server) -> int:
    t0 = now_ns()
    streams = [
        {"stream": {"app": "a", "ns": "prod"}, "values": [[str(t0 + i * NS), f"a{i} level=info"] for i in range(1, 11)]},
        {"stream": {"app": "b", "ns": "prod"}, "values": [[str(t0 + i * NS), f"b{i} level=error"] for i in range(1, 6)]},
        {"stream": {"app": "c", "ns": "dev"}, "values": [[str(t0 + NS), "c1"]]},
    ]
    assert server.push(streams).status_code == 204
    return t0


def test_query_range_logs_grafana_shape(server):
    t0 = _seed(server)
    r = server.get("/loki/api/v1/query_range", query='{ns="prod"}', start=t0, end=t0 + 20 * NS,
                   direction="backward", limit=1000)
    body = r.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "streams"
    assert "summary" in body["data"]["stats"]
    by_app = {s["stream"]["app"]: s["values"] for s in body["data"]["result"]}
    assert [v[1] for v in by_app["b"]] == [f"b{i} level=error" for i in range(5, 0, -1)]
    assert by_app["a"][0] == [str(t0 + 10 * NS), "a10 level=info"]
    r = server.get("/loki/api/v1/query_range", query='{ns="prod"}', start=t0, end=t0 + 20 * NS, limit=3)
    assert sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"]) == ["a10 level=info",
                                                                                     "a8 level=info",
                                                                                     "a9 level=info"]


def test_query_range_interval(server):
    t0 = _seed(server)
    r = server.get("/loki/api/v1/query_range", query='{app="a"}', start=t0, end=t0 + 20 * NS,
                   direction="forward", interval="3s")
    assert [v[1].split()[0] for v in r.json()["data"]["result"][0]["values"]] == ["a1", "a4", "a7", "a10"]


def test_query_range_matrix_and_instant_vector(server):
    t0 = _seed(server)
    r = server.get("/loki/api/v1/query_range", query='sum by (app) (count_over_time({ns="prod"}[5s]))',
                   start=t0 + 5 * NS, end=t0 + 10 * NS, step="5s")
    data = r.json()["data"]
    assert data["resultType"] == "matrix"
    got = {s["metric"]["app"]: s["values"] for s in data["result"]}
    assert got["a"] == [[(t0 + 5 * NS) // NS, "5"], [(t0 + 10 * NS) // NS, "5"]]
    assert got["b"] == [[(t0 + 5 * NS) // NS, "5"]]
    r = server.get("/loki/api/v1/query", query='sum(count_over_time({app=~"a|b"} |= "level=error" [1m]))',
                   time=str(t0 + 30 * NS))
    data = r.json()["data"]
    assert data["resultType"] == "vector"
    assert data["result"] == [{"metric": {}, "value": [(t0 + 30 * NS) // NS, "5"]}]
    r = server.get("/loki/api/v1/query", query='{app="a"}')
    assert r.status_code == 400 and "log queries are not supported as an instant query type" in r.text
    r = server.get("/loki/api/v1/query", query="1 + 2")
    assert r.json()["data"]["resultType"] == "scalar" and r.json()["data"]["result"][1] == "3"


def test_labels_values_series(server):
    t0 = _seed(server)
    rng = {"start": t0, "end": t0 + 20 * NS}
    assert server.get("/loki/api/v1/labels", **rng).json() == {"status": "success", "data": ["app", "ns"]}
    assert server.get("/loki/api/v1/label/app/values", **rng).json()["data"] == ["a", "b", "c"]
    r = server.get("/loki/api/v1/label/app/values", query='{ns="dev"}', **rng)
    assert r.json()["data"] == ["c"]
    r = server.client.get("/loki/api/v1/series", params=[("match[]", '{ns="prod"}'), ("start", str(t0)),
                                                         ("end", str(t0 + 20 * NS))])
    assert r.json() == {"status": "success", "data": [{"app": "a", "ns": "prod"}, {"app": "b", "ns": "prod"}]}
    r = server.client.post("/loki/api/v1/series", data={"match[]": '{app="c"}', "start": str(t0),
                                                         "end": str(t0 + 20 * NS)})
    assert r.json()["data"] == [{"app": "c", "ns": "dev"}]
    # outside the range nothing is active
    r = server.get("/loki/api/v1/labels", start=t0 + 100 * NS, end=t0 + 200 * NS)
    assert r.json()["data"] == []


def test_index_stats_and_volume(server):
    t0 = _seed(server)
    rng = {"start": t0, "end": t0 + 20 * NS}
    r = server.get("/loki/api/v1/index/stats", query='{ns="prod"}', **rng)
    a_bytes = sum(len(f"a{i} level=info") for i in range(1, 11))
    b_bytes = sum(len(f"b{i} level=error") for i in range(1, 6))
    assert r.json() == {"streams": 2, "chunks": 2, "bytes": a_bytes + b_bytes, "entries": 15}
    r = server.get("/loki/api/v1/index/volume", query='{ns=~".+"}', **rng)
    data = r.json()["data"]
    assert data["resultType"] == "vector"
    assert [(x["metric"], x["value"][1]) for x in data["result"]] == [
        ({"ns": "prod"}, str(a_bytes + b_bytes)), ({"ns": "dev"}, "2")]
    r = server.get("/loki/api/v1/index/volume", query='{ns="prod"}', targetLabels="app", **rng)
    assert [x["metric"] for x in r.json()["data"]["result"]] == [{"app": "a"}, {"app": "b"}]


def test_errors_are_400_text(server):
    r = server.get("/loki/api/v1/query_range", query='{app="a"')
    assert r.status_code == 400 and r.text.startswith("parse error at line 1")
    r = server.get("/loki/api/v1/query_range", query='{app="a"}', limit=100000)
    assert r.status_code == 400 and "max entries limit per query exceeded" in r.text
    r = server.get("/loki/api/v1/query_range", query='{app="a"}', start="yesterday")
    assert r.status_code == 400


def test_store_not_ready_503(tmp_path):
    from fastapi import FastAPI

    from pharos.logs.api import register

    app = FastAPI()
    register(app, lambda: None)
    transport = httpx.ASGITransport(app=app)

    async def go() -> int:
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as c:
            return (await c.get("/loki/api/v1/labels")).status_code

    import asyncio

    assert asyncio.run(go()) == 503


def test_tail_websocket(server):
    import orjson
    from websockets.sync.client import connect

    t0 = _seed(server)
    ws_url = server.url.replace("http", "ws") + f'/loki/api/v1/tail?query={{app="c"}}&start={t0}'
    with connect(ws_url, open_timeout=10) as ws:
        msg = orjson.loads(ws.recv(timeout=10))
    assert msg["streams"][0]["stream"] == {"app": "c", "ns": "dev"}
    assert msg["streams"][0]["values"][0][1] == "c1"
