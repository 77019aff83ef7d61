"""`/loki/api/v1/delete` (Loki's compactor API shapes), per-stream rate limits, push-driven tail."""

from __future__ import annotations

import time
from collections.abc import Iterator

import orjson
import pytest
from loghelp import NS, Server, now_ns, serve

from pharos.logs.limits import Limits, LimitsConfig
from pharos.storage.logs import LogStore


@pytest.fixture
def server(store: LogStore) -> Iterator[Server]:
    gen = serve(store)
    srv = next(gen)
    srv.api.cancel_period_ns = 3600 * NS
    yield srv
    gen.close()


def _seed(server: Server, tenant: str | None = None) -> int:
    t0 = now_ns() - 100 * NS
    streams = [{"stream": {"app": "a"}, "values": [[str(t0 + i * NS), f"a{i} {'pw=1' if i % 2 else 'ok'}"]
                                                   for i in range(10)]},
               {"stream": {"app": "b"}, "values": [[str(t0 + i * NS), f"b{i}"] for i in range(10)]}]
    assert server.push(streams, tenant).status_code == 204
    return t0


def _lines(server: Server, query: str, t0: int, tenant: str | None = None) -> list[str]:
    r = server.get("/loki/api/v1/query_range", tenant, query=query, start=t0 - NS, end=t0 + 20 * NS, limit=100,
                   direction="forward")
    return sorted(v[1] for s in r.json()["data"]["result"] for v in s["values"])


def _delete(server: Server, method: str, tenant: str | None = None, **params: object):
    headers = {"X-Scope-OrgID": tenant} if tenant else {}
    return server.client.request(method, "/loki/api/v1/delete", params=params, headers=headers)


def test_delete_hides_at_once_lists_and_cancels(server):
    t0 = _seed(server)
    _seed(server, "other")
    start_s, end_s = t0 // NS + 2, t0 // NS + 5
    r = _delete(server, "POST", query='{app="a"} |= "pw="', start=start_s, end=end_s)
    assert r.status_code == 204
    assert _lines(server, '{app="a"}', t0) == sorted(["a0 ok", "a1 pw=1", "a2 ok", "a4 ok", "a6 ok", "a7 pw=1",
                                                       "a8 ok", "a9 pw=1"])
    assert len(_lines(server, '{app="a"}', t0, "other")) == 10  # other tenants untouched
    listed = _delete(server, "GET").json()
    assert len(listed) == 1 and _delete(server, "GET", "other").json() == []
    req = listed[0]
    assert set(req) == {"request_id", "start_time", "end_time", "query", "status", "created_at"}
    assert (req["start_time"], req["end_time"], req["status"]) == (start_s, end_s, "received")
    assert req["query"] == '{app="a"} |= "pw="'
    assert _delete(server, "DELETE", request_id="nope").status_code == 404
    assert _delete(server, "DELETE", request_id=req["request_id"]).status_code == 204
    assert len(_lines(server, '{app="a"}', t0)) == 10
    assert _delete(server, "GET").json() == []


def test_delete_processed_after_cancel_period_removes_from_store(server):
    t0 = _seed(server)
    server.store.flush()
    _seed_more = [{"stream": {"app": "a"}, "values": [[str(t0 + 15 * NS), "a15 pw=1"]]}]
    assert server.push(_seed_more).status_code == 204  # this one is in the head
    r = _delete(server, "POST", query='{app="a"}', start=str(t0 // NS + 5), end=str(t0 // NS + 16))
    assert r.status_code == 204
    server.api.cancel_period_ns = 0
    assert server.api.deletes().process() == 1
    assert _lines(server, '{app="a"}', t0) == [f"a{i} {'pw=1' if i % 2 else 'ok'}" for i in range(5)]
    assert _lines(server, '{app="b"}', t0) == sorted(f"b{i}" for i in range(10))
    req = _delete(server, "GET").json()[0]
    assert req["status"] == "processed"
    r = _delete(server, "DELETE", request_id=req["request_id"])
    assert r.status_code == 400
    assert r.text == "deletion of request which is in process or already processed is not allowed\n"


def test_delete_request_errors(server):
    now_s = time.time_ns() // NS
    cases = [
        ({}, "query not set"),
        ({"query": '{app="a"}'}, "start time not set"),
        ({"query": '{app="a"}', "start": "12"}, "invalid start time: require unix seconds or RFC3339 format"),
        ({"query": '{app="a"}', "start": str(now_s - 10), "end": "x"},
         "invalid end time: require unix seconds or RFC3339 format"),
        ({"query": '{app="a"}', "start": str(now_s - 10), "end": str(now_s + 3600)},
         "deletes in the future are not allowed"),
        ({"query": '{app="a"}', "start": str(now_s - 10), "end": str(now_s - 20)},
         "start time can't be greater than or equal to end time"),
    ]
    for params, message in cases:
        r = _delete(server, "POST", **params)
        assert (r.status_code, r.text) == (400, message + "\n"), params
    r = _delete(server, "POST", query='{app="a"} | json', start=str(now_s - 10))
    assert r.status_code == 400
    r = _delete(server, "POST", query='{app="a"}', start="2024-01-01T00:00:00Z", end="2024-01-02T00:00:00Z")
    assert r.status_code == 204
    assert _delete(server, "GET").json()[0]["start_time"] == 1704067200


def test_cancel_past_the_deadline_needs_force(server):
    _seed(server)
    now_s = time.time_ns() // NS
    assert _delete(server, "POST", query='{app="a"}', start=str(now_s - 50)).status_code == 204
    server.api.cancel_period_ns = 0
    rid = _delete(server, "GET").json()[0]["request_id"]
    r = _delete(server, "DELETE", request_id=rid)
    assert r.status_code == 400 and r.text.startswith("Cancellation of partially completed delete request or "
                                                      "delete request past the deadline of 0s")
    assert _delete(server, "DELETE", request_id=rid, force="true").status_code == 204


def test_delete_requests_survive_restart(tmp_path):
    from pharos.logs.deletes import DeleteManager

    store = LogStore(tmp_path)
    store.open()
    mgr = DeleteManager(store)
    now_ms = time.time_ns() // 1_000_000
    mgr.add("t", {"query": '{app="a"}', "start": str(now_ms // 1000 - 100)})
    store.close()
    store2 = LogStore(tmp_path)
    store2.open()
    assert [r["query"] for r in DeleteManager(store2).list("t")] == ['{app="a"}']
    store2.close()


def test_per_stream_rate_limit(store):
    limits = LimitsConfig(Limits(per_stream_rate_limit=1000, per_stream_rate_limit_burst=2000,
                                 ingestion_rate_mb=100, ingestion_burst_size_mb=100))
    gen = serve(store, limits)
    srv = next(gen)
    try:
        t0 = now_ns()
        big = [[str(t0 + i), "x" * 99] for i in range(30)]  # 3,000 bytes: 20 lines fit the burst
        r = srv.push([{"stream": {"app": "big"}, "values": big}, {"stream": {"app": "small"}, "values": big[:5]}])
        assert r.status_code == 429
        assert r.text == ("Per stream rate limit exceeded (limit: 1.0 kB/sec) while attempting to ingest for stream "
                          "'{app=\"big\"}' totaling 990 B, consider splitting a stream via additional labels or "
                          "contact your Loki administrator to see if the limit can be increased\n")
        got = {s["stream"]["app"]: len(s["values"]) for s in srv.get(
            "/loki/api/v1/query_range", query='{app=~".+"}', start=t0 - NS, end=t0 + NS, limit=100).json()[
            "data"]["result"]}
        assert got == {"big": 20, "small": 5}
    finally:
        gen.close()


def test_tail_sends_lines_pushed_after_connecting(server):
    from websockets.sync.client import connect

    start = time.time_ns()
    ws_url = server.url.replace("http", "ws") + f'/loki/api/v1/tail?query={{app="live"}}&start={start}'
    with connect(ws_url, open_timeout=10) as ws:
        for i in range(3):
            ts = time.time_ns()
            assert server.push([{"stream": {"app": "live"}, "values": [[str(ts), f"line {i}"]]}]).status_code == 204
            msg = orjson.loads(ws.recv(timeout=10))
            assert [v[1] for s in msg["streams"] for v in s["values"]] == [f"line {i}"]
