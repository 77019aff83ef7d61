"""Subsystems mounted on the one server: the Loki API is served, its data survives a restart, and
the `logs:` limits follow a reload."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pharos_testproc import PharosProcess, wait_for

Start = Callable[..., PharosProcess]


def push(proc: PharosProcess, line: str, tenant: str = "fake") -> int:
    body = {"streams": [{"stream": {"app": "web"}, "values": [[str(time.time_ns()), line]]}]}
    return proc.client.post("/loki/api/v1/push", json=body, headers={"X-Scope-OrgID": tenant}).status_code


def lines(proc: PharosProcess, tenant: str = "fake") -> list[str]:
    resp = proc.client.get(
        "/loki/api/v1/query_range",
        params={"query": '{app="web"}', "start": str(time.time_ns() - 3600 * 10**9), "limit": "100"},
        headers={"X-Scope-OrgID": tenant},
    )
    assert resp.status_code == 200, resp.text
    return [v[1] for stream in resp.json()["data"]["result"] for v in stream["values"]]


def test_logs_pushed_to_the_server_survive_a_restart(start_pharos: Start, tmp_path: Path) -> None:
    proc = start_pharos("server", "--data-dir", str(tmp_path / "data"))
    assert push(proc, "first line") == 204
    assert push(proc, "other tenant", tenant="t2") == 204
    assert lines(proc) == ["first line"]
    assert proc.stop() == 0
    again = start_pharos("server", "--data-dir", str(tmp_path / "data"))
    assert lines(again) == ["first line"]
    assert lines(again, tenant="t2") == ["other tenant"]


def test_log_limits_follow_a_reload(start_pharos: Start, tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text("logs:\n  limits:\n    max_line_size: 10B\n")
    proc = start_pharos("server", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert push(proc, "x" * 20) == 400
    config.write_text("logs:\n  limits:\n    max_line_size: 1KB\n")
    assert proc.client.post("/-/reload").status_code == 200
    assert push(proc, "x" * 20) == 204
    assert lines(proc) == ["x" * 20]


def test_pushed_groups_are_ingested_and_federated(start_pharos: Start, tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text("global:\n  scrape_interval: 1s\n")
    proc = start_pharos("server", "--config", str(config), "--data-dir", str(tmp_path / "data"))
    body = "# TYPE batch_last_success gauge\nbatch_last_success 42\n"
    assert proc.client.put("/metrics/job/nightly/instance/a", content=body).status_code == 200
    groups = proc.client.get("/api/v1/metrics").json()["data"]
    assert [g["labels"] for g in groups] == [{"job": "nightly", "instance": "a"}]

    def ingested() -> list[dict]:
        resp = proc.client.get("/api/v1/query", params={"query": "batch_last_success"})
        return resp.json()["data"]["result"]

    wait_for(lambda: ingested(), timeout=20)
    (sample,) = ingested()
    assert sample["metric"] == {"__name__": "batch_last_success", "job": "nightly", "instance": "a"}
    assert sample["value"][1] == "42"
    federated = proc.client.get("/federate", params={"match[]": "batch_last_success"}).text
    assert 'batch_last_success{instance="a",job="nightly"} 42' in federated


def test_monitor_functions_answer_through_the_query_api(start_pharos: Start, tmp_path: Path) -> None:
    proc = start_pharos("server", "--data-dir", str(tmp_path / "data"))
    resp = proc.client.get("/api/v1/query", params={"query": 'anomaly_upper(vector(1), "basic", 2)'})
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "success"
