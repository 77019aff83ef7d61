"""The Prometheus API answered in-process by the real app and TSDB: envelopes, status codes,
error types and messages as Prometheus 2.42 writes them."""

from __future__ import annotations

from api_fixtures import T0, add_series
from starlette.testclient import TestClient

from pharos.server.runtime import Runtime

FORM = {"content-type": "application/x-www-form-urlencoded"}


def seed(runtime: Runtime) -> None:
    add_series(runtime, {"__name__": "up", "job": "app", "instance": "h:1"}, [T0, T0 + 15_000], [1, 1])
    add_series(runtime, {"__name__": "up", "job": "node", "instance": "h:2"}, [T0 + 60_000], [0])
    add_series(runtime, {"__name__": "temp", "job": "app", "room": "a b"}, [T0], [21.5])


def test_series_requires_match(client: TestClient) -> None:
    resp = client.get("/api/v1/series")
    assert resp.status_code == 400
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {
        "status": "error",
        "errorType": "bad_data",
        "error": "no match[] parameter provided",
    }


def test_series_time_and_selector_errors(client: TestClient) -> None:
    resp = client.get("/api/v1/series", params={"match[]": "up", "start": "x"})
    assert resp.status_code == 400
    assert resp.json()["error"] == (
        'invalid parameter "start": Invalid time value for \'start\': cannot parse "x" to a valid timestamp'
    )
    resp = client.get("/api/v1/series", params={"match[]": "up{"})
    assert resp.status_code == 400 and resp.json()["errorType"] == "bad_data"
    assert resp.json()["error"].startswith('invalid parameter "match[]": ')
    for bad in ("rate(up[5m])", "up[5m]", "1", '{job=""}', "up offset 5m", '{a=~"("}'):
        body = client.get("/api/v1/series", params={"match[]": bad}).json()
        assert body["errorType"] == "bad_data", bad


def test_series_get_post_and_windows(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    body = client.get("/api/v1/series", params={"match[]": "up"}).json()
    assert body == {
        "status": "success",
        "data": [
            {"__name__": "up", "instance": "h:1", "job": "app"},
            {"__name__": "up", "instance": "h:2", "job": "node"},
        ],
    }
    posted = client.post("/api/v1/series", content="match[]=up&end=1700000030", headers=FORM).json()
    assert posted["data"] == [{"__name__": "up", "instance": "h:1", "job": "app"}]
    rfc = client.get("/api/v1/series", params={"match[]": "up", "start": "2023-11-14T22:14:20Z"}).json()
    assert [s["job"] for s in rfc["data"]] == ["node"]
    two = client.get("/api/v1/series", params=[("match[]", "temp"), ("match[]", '{job="node"}')]).json()
    assert [s["__name__"] for s in two["data"]] == ["temp", "up"]


def test_series_limit_truncates_with_warning(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    body = client.get("/api/v1/series", params={"match[]": "up", "limit": "1"}).json()
    assert len(body["data"]) == 1 and body["warnings"] == ["results truncated due to limit"]
    assert "warnings" not in client.get("/api/v1/series", params={"match[]": "up", "limit": "2"}).json()
    bad = client.get("/api/v1/series", params={"match[]": "up", "limit": "-1"})
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


def test_series_delete_and_put(client: TestClient) -> None:
    resp = client.delete("/api/v1/series", params={"match[]": "up"})
    assert resp.status_code == 500
    assert resp.json() == {"status": "error", "errorType": "internal", "error": "not implemented"}
    assert client.put("/api/v1/series", params={"match[]": "up"}).status_code == 405


def test_labels(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    assert client.get("/api/v1/labels").json()["data"] == ["__name__", "instance", "job", "room"]
    posted = client.post("/api/v1/labels", content="match[]=temp", headers=FORM).json()
    assert posted["data"] == ["__name__", "job", "room"]
    bad = client.get("/api/v1/labels", params={"match[]": "up{"})
    assert bad.status_code == 400
    assert not bad.json()["error"].startswith("invalid parameter")  # Prometheus does not wrap it here
    assert client.get("/api/v1/labels", params={"start": "10", "end": "5"}).json()["data"] == []


def test_label_values(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    assert client.get("/api/v1/label/job/values").json() == {"status": "success", "data": ["app", "node"]}
    assert client.get("/api/v1/label/job/values", params={"match[]": "temp"}).json()["data"] == ["app"]
    assert client.get("/api/v1/label/__name__/values").json()["data"] == ["temp", "up"]
    assert client.get("/api/v1/label/nonexistent/values").json()["data"] == []
    bad = client.get("/api/v1/label/0bad/values")
    assert bad.status_code == 400
    assert bad.json() == {"status": "error", "errorType": "bad_data", "error": 'invalid label name: "0bad"'}
    assert client.post("/api/v1/label/job/values").status_code == 405
    limited = client.get("/api/v1/label/job/values", params={"limit": "1"}).json()
    assert limited["data"] == ["app"] and limited["warnings"]


def test_metadata(client: TestClient) -> None:
    body = client.get("/api/v1/metadata").json()
    assert body["data"] == {
        "http_requests_total": [
            {"type": "counter", "help": "Requests.", "unit": ""},
            {"type": "counter", "help": "HTTP requests.", "unit": ""},
        ],
        "temperature": [{"type": "gauge", "help": "Temperature.", "unit": "celsius"}],
    }
    assert len(client.get("/api/v1/metadata", params={"limit": "1"}).json()["data"]) == 1
    assert client.get("/api/v1/metadata", params={"limit": "0"}).json()["data"] == {}
    per = client.get("/api/v1/metadata", params={"limit_per_metric": "1"}).json()["data"]
    assert len(per["http_requests_total"]) == 1
    assert list(client.get("/api/v1/metadata", params={"metric": "temperature"}).json()["data"]) == [
        "temperature"
    ]
    assert client.get("/api/v1/metadata", params={"metric": "up"}).json()["data"] == {}
    bad = client.get("/api/v1/metadata", params={"limit": "x"})
    assert bad.status_code == 400 and bad.json()["error"] == "limit must be a number"


def test_targets(client: TestClient) -> None:
    data = client.get("/api/v1/targets").json()["data"]
    assert [t["scrapePool"] for t in data["activeTargets"]] == ["app", "node"]
    node = data["activeTargets"][1]
    assert node == {
        "discoveredLabels": {"__address__": "h:2", "job": "node"},
        "labels": {"instance": "h:2", "job": "node"},
        "scrapePool": "node",
        "scrapeUrl": "http://h:2/metrics",
        "globalUrl": "http://h:2/metrics",
        "lastError": "connection refused",
        "lastScrape": "2023-11-14T22:13:20.25Z",
        "lastScrapeDuration": 0.0123,
        "health": "down",
        "scrapeInterval": "1m30s",
        "scrapeTimeout": "10s",
    }
    assert data["activeTargets"][0]["lastScrape"] == "0001-01-01T00:00:00Z"
    assert data["droppedTargets"] == [{"discoveredLabels": {"__address__": "h:3", "job": "app"}}]
    dropped = client.get("/api/v1/targets", params={"state": "dropped"}).json()["data"]
    assert dropped["activeTargets"] == [] and len(dropped["droppedTargets"]) == 1
    active = client.get("/api/v1/targets", params={"state": "Active"}).json()["data"]
    assert len(active["activeTargets"]) == 2 and active["droppedTargets"] == []
    bogus = client.get("/api/v1/targets", params={"state": "bogus"}).json()["data"]
    assert bogus == {"activeTargets": [], "droppedTargets": []}
    pool = client.get("/api/v1/targets", params={"scrapePool": "node"}).json()["data"]
    assert [t["scrapePool"] for t in pool["activeTargets"]] == ["node"]


def test_targets_metadata(client: TestClient) -> None:
    rows = client.get("/api/v1/targets/metadata").json()["data"]
    assert rows[0] == {
        "target": {"instance": "h:1", "job": "app"},
        "metric": "http_requests_total",
        "type": "counter",
        "help": "Requests.",
        "unit": "",
    }
    one = client.get("/api/v1/targets/metadata", params={"metric": "temperature"}).json()["data"]
    assert one == [
        {
            "target": {"instance": "h:1", "job": "app"},
            "type": "gauge",
            "help": "Temperature.",
            "unit": "celsius",
        }
    ]
    node = client.get("/api/v1/targets/metadata", params={"match_target": '{job="node"}'}).json()["data"]
    assert {r["target"]["job"] for r in node} == {"node"}
    # the limit is checked per target, as Prometheus does: the first target's rows all come back
    assert len(client.get("/api/v1/targets/metadata", params={"limit": "1"}).json()["data"]) == 2
    bad = client.get("/api/v1/targets/metadata", params={"match_target": '{job="x"'})
    assert bad.status_code == 400 and bad.json()["error"].startswith('invalid parameter "match_target": ')


def test_status_endpoints(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    assert client.get("/api/v1/status/config").json()["data"] == {"yaml": runtime.loaded.text}
    flags = client.get("/api/v1/status/flags").json()["data"]
    assert flags["listen"] == "127.0.0.1:9494" and all(isinstance(v, str) for v in flags.values())
    build = client.get("/api/v1/status/buildinfo").json()["data"]
    assert set(build) == {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}
    info = client.get("/api/v1/status/runtimeinfo").json()["data"]
    assert set(info) == {
        "startTime", "CWD", "reloadConfigSuccess", "lastConfigTime", "corruptionCount",
        "goroutineCount", "GOMAXPROCS", "GOGC", "GODEBUG", "storageRetention",
    }  # fmt: skip
    assert info["storageRetention"] == "15d"
    tsdb = client.get("/api/v1/status/tsdb").json()["data"]
    assert set(tsdb) == {
        "headStats", "seriesCountByMetricName", "labelValueCountByLabelName",
        "memoryInBytesByLabelName", "seriesCountByLabelValuePair",
    }  # fmt: skip
    assert tsdb["headStats"]["numSeries"] == 3
    assert {"name": "up", "value": 2} in tsdb["seriesCountByMetricName"]


def test_not_ready_api_answers_503(client: TestClient, runtime: Runtime) -> None:
    runtime._ready = False
    for path in ("/api/v1/labels", "/api/v1/export?match[]=up", "/-/ready"):
        resp = client.get(path)
        assert resp.status_code == 503 and resp.text == "Service Unavailable"
    assert client.get("/-/healthy").status_code == 200
    runtime._ready = True


def test_cors_options_and_unknown_paths(client: TestClient) -> None:
    resp = client.get("/api/v1/labels", headers={"Origin": "http://grafana.example"})
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert "access-control-allow-origin" not in client.get("/api/v1/labels").headers
    assert client.options("/api/v1/labels").status_code == 204
    missing = client.get("/api/v1/nonexistent")
    assert missing.status_code == 404 and missing.text == "404 page not found\n"
    assert client.post("/api/v1/metadata").status_code == 405


def test_own_metrics(client: TestClient, runtime: Runtime) -> None:
    seed(runtime)
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = resp.text
    for name in (
        "pharos_build_info",
        "\npharos_ready 1\n",
        "pharos_tsdb_head_series",
        "pharos_config_last_reload_successful",
    ):
        assert name in text, name
    assert "\npharos_tsdb_samples_appended_total 4\n" in text
    assert "process_resident_memory_bytes" in text
