"""Subsystems mounted on the one server: the Loki API is served, its data survives a restart, and
the `logs:` limits follow a reload."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pharos_testproc import PharosProcess

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
