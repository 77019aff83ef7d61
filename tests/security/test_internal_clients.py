"""pharos' own clients with authentication and TLS on (real processes on loopback): rule alerts
reach the built-in Alertmanager and its receivers, and the agent embedded in `pharos up` ships
its log lines, although none of them carries the server's credentials or trusts its certificate
(they call the app in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pharos_testproc import wait_for
from sechelp import ALWAYS_FIRING, BASIC, PASSWORD, USER, Receiver, SecureServer

from pharos.config.loader import parse_config
from pharos.config.model import ScrapeConfig
from pharos.kube.component import self_client
from pharos.kube.defaults import in_cluster_scrape_configs
from pharos.metrics.scrape.client import ScrapeError, fetch, make_session
from pharos.metrics.scrape.settings import http_settings

FIRING = {"InternalAlways", "internal-monitor"}  # the rule's and the monitor's alert names
AUTH = f"server:\n  basic_auth: {{username: {USER}, password: {PASSWORD}}}\n"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    hook = Receiver()
    yield hook
    hook.close()


def alerting(folder: Path, hook: Receiver) -> str:
    """A rule and a monitor that always fire, and a built-in Alertmanager notifying `hook`."""
    rules = folder / "rules.yml"
    rules.write_text(ALWAYS_FIRING)
    return (
        f"global: {{evaluation_interval: 1s}}\nrule_files: ['{rules}']\n"
        "alertmanager:\n  route: {receiver: hook, group_wait: 1s, group_interval: 1s}\n"
        f"  receivers:\n    - name: hook\n      webhook_configs: [{{url: '{hook.url}'}}]\n"
        "monitors:\n  - {name: internal-monitor, type: metric, query: vector(5), interval: 1s,"
        " thresholds: {critical: 3}}\n"
    )


def alert_names(server: SecureServer) -> set[str]:
    """Alert names the server's own Alertmanager holds (asked with credentials)."""
    response = server.client.get("/api/v2/alerts")
    assert response.status_code == 200, response.text
    return {a["labels"]["alertname"] for a in response.json()}


def test_rule_and_monitor_alerts_reach_the_builtin_alertmanager_with_basic_auth(
    start_module: Any, tmp_path: Path, receiver: Receiver
) -> None:
    server = start_module(AUTH + alerting(tmp_path, receiver), auth=BASIC)
    with httpx.Client(trust_env=False, timeout=10) as anonymous:
        assert anonymous.get(f"{server.url}/api/v2/alerts").status_code == 401  # auth is on
    wait_for(lambda: alert_names(server) >= FIRING, what="the alerts in the Alertmanager")
    wait_for(lambda: receiver.alertnames() >= FIRING, what="the webhook notifications")
    assert "sending" not in server.log()  # no failed delivery was logged


def test_up_with_auth_tls_and_tenants_ships_agent_logs_and_alerts(
    tmp_path: Path, ca: dict[str, Path], receiver: Receiver
) -> None:
    log_file = tmp_path / "app.log"
    log_file.write_text("".join(f"internal line {i}\n" for i in range(5)))
    tls = f"  tls_server_config: {{cert_file: {ca['server.pem']}, key_file: {ca['server.key']}}}\n"
    config = AUTH + "  auth_enabled: true\n" + tls + alerting(tmp_path, receiver)
    up = SecureServer(
        tmp_path / "up", config, ca=ca["ca.pem"], command="up", args=("--logs", str(log_file)), auth=BASIC
    )
    try:
        up.wait_ready()
        query = {"query": f'{{filename="{log_file}"}}', "limit": "100"}

        def lines() -> list[str]:
            response = up.client.get(
                "/loki/api/v1/query_range", params=query, headers={"X-Scope-OrgID": "fake"}
            )
            result = response.json()["data"]["result"]
            return sorted(v[1] for stream in result for v in stream["values"])

        wait_for(lambda: len(lines()) == 5, what="the agent's lines in the log store")
        assert lines() == [f"internal line {i}" for i in range(5)]
        wait_for(lambda: alert_names(up) >= FIRING, what="the alerts in the Alertmanager")
        wait_for(lambda: receiver.alertnames() >= FIRING, what="the webhook notifications")
        assert "push to" not in up.log()  # the agent never failed a push
    finally:
        up.stop()


async def test_in_cluster_self_scrape_jobs_carry_the_servers_credentials(
    start_module: Any, tmp_path: Path, ca: dict[str, Path]
) -> None:
    (tmp_path / "admin.pass").write_text(PASSWORD + "\n")
    tls = f"  tls_server_config: {{cert_file: {ca['server.pem']}, key_file: {ca['server.key']}}}\n"
    config = f"server:\n  basic_auth: {{username: {USER}, password_file: {tmp_path / 'admin.pass'}}}\n{tls}"
    server = start_module(config, ca=ca["ca.pem"], auth=BASIC)
    own = self_client(parse_config(config).config.server)
    jobs = {c.job_name: c for c in in_cluster_scrape_configs(f"127.0.0.1:{server.port}", own)}
    statuses = {name: await scrape(jobs[name], server.port) for name in ("pharos", "kube-state-metrics")}
    # Outside a cluster /kube/metrics is a 404: authenticated, then not found.
    assert statuses == {
        "pharos": "scraped",
        "kube-state-metrics": "server returned HTTP status 404 Not Found",
    }


async def scrape(job: ScrapeConfig, port: int) -> str:
    """Scrape `job`'s path on 127.0.0.1:port with its client config: "scraped" or the error."""
    http = http_settings(job)
    async with make_session(http) as session:
        try:
            body = (
                await fetch(session, f"{job.scheme}://127.0.0.1:{port}{job.metrics_path}", http, 10, 0)
            ).body
        except ScrapeError as exc:
            return str(exc)
    return "scraped" if b"# TYPE" in body else "empty"
