"""Loki's ruler API on a real `pharos server`: a group created the way `lokitool rules load`
creates it fires on a pushed log line (visible in /prometheus/api/v1/alerts and in pharos'
Alertmanager), records into the TSDB, stays within its tenant, and survives a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from pharos_testproc import PharosProcess, wait_for

GROUP = """name: api-errors
interval: 1s
rules:
    - alert: ApiErrors
      expr: sum by (app) (count_over_time({app="api"} |= "error" [1m])) > 0
      labels:
        severity: page
      annotations:
        summary: '{{ $labels.app }} logged {{ $value }} errors'
    - record: app:error_lines:count1m
      expr: sum by (app) (count_over_time({app="api"} |= "error" [1m]))
"""


def org(tenant: str) -> dict[str, str]:
    """The headers lokitool sends for `--id tenant`."""
    return {"X-Scope-OrgID": tenant, "User-Agent": "Go-http-client/1.1"}


def ruler_alerts(proc: PharosProcess, tenant: str) -> list[dict[str, Any]]:
    """The tenant's alerts from the Prometheus-format view."""
    alerts: list[dict[str, Any]] = proc.client.get("/prometheus/api/v1/alerts", headers=org(tenant)).json()[
        "data"
    ]["alerts"]
    return alerts


def test_api_rule_fires_to_the_alertmanager_and_survives_a_restart(tmp_path: Path) -> None:
    proc = PharosProcess(tmp_path, "server")
    try:
        proc.wait_ready()
        created = proc.client.post("/loki/api/v1/rules/team%2Fapi", content=GROUP, headers=org("team-a"))
        assert created.status_code == 202, created.text
        line = {
            "streams": [
                {"stream": {"app": "api"}, "values": [[str(time.time_ns()), "error: upstream timeout"]]}
            ]
        }
        pushed = httpx.post(f"{proc.url}/loki/api/v1/push", json=line, headers={"X-Scope-OrgID": "team-a"})
        assert pushed.status_code == 204, pushed.text

        wait_for(
            lambda: any(a["state"] == "firing" for a in ruler_alerts(proc, "team-a")),
            what="the alert to fire",
        )
        (alert,) = ruler_alerts(proc, "team-a")
        assert alert["labels"] == {"alertname": "ApiErrors", "app": "api", "severity": "page"}
        assert alert["annotations"] == {"summary": "api logged 1 errors"}
        assert ruler_alerts(proc, "fake") == []

        def in_alertmanager() -> list[dict[str, Any]]:
            got: list[dict[str, Any]] = proc.client.get("/api/v2/alerts").json()
            return [a for a in got if a["labels"].get("alertname") == "ApiErrors"]

        wait_for(in_alertmanager, what="the alert in pharos' Alertmanager")
        assert in_alertmanager()[0]["labels"]["app"] == "api"
        recorded = proc.client.get("/api/v1/query", params={"query": "app:error_lines:count1m"}).json()
        assert [r["value"][1] for r in recorded["data"]["result"]] == ["1"]
    finally:
        assert proc.stop() == 0

    again = PharosProcess(tmp_path, "server", data_dir=proc.data_dir)
    try:
        again.wait_ready()
        listing = again.client.get("/loki/api/v1/rules", headers=org("team-a"))
        assert listing.status_code == 200
        assert [g["name"] for g in yaml.safe_load(listing.text)["team/api"]] == ["api-errors"]
        assert again.client.get("/loki/api/v1/rules", headers=org("fake")).status_code == 404

        def evaluated() -> bool:
            groups = again.client.get("/prometheus/api/v1/rules", headers=org("team-a")).json()["data"][
                "groups"
            ]
            return bool(groups) and all(r["health"] == "ok" for r in groups[0]["rules"])

        wait_for(evaluated, what="the stored group to be evaluated after the restart")
    finally:
        assert again.stop() == 0
