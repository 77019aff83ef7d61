from loghelp import NS, now_ns


def test_push_and_query_roundtrip(server):
    t0 = now_ns()
    r = server.push([{"stream": {"app": "a"}, "values": [[str(t0 + (i + 1) * NS), f"line {i}"] for i in range(5)]}])
    assert r.status_code == 204, r.text
    r = server.get("/loki/api/v1/query_range", query='{app="a"}', start=t0, end=t0 + 10 * NS, limit=3)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["resultType"] == "streams"
    assert [v[1] for v in data["result"][0]["values"]] == ["line 4", "line 3", "line 2"]
    r = server.get("/loki/api/v1/query_range", query='sum(count_over_time({app="a"}[10s]))',
                   start=t0 + 10 * NS, end=t0 + 10 * NS, step="1s")
    assert r.json()["data"]["result"][0]["values"][0][1] == "5", r.text
