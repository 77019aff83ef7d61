"""The alert notifier's HTTP client config against Debian's Alertmanager 0.25 serving https with
basic auth (its `--web.config.file`: bcrypt users, a certificate of a throwaway CA): pharos
authenticates with `basic_auth.password_file` and verifies with `tls_config.ca_file`; an entry
without the CA fails verification."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from pharos_testproc import free_port, wait_for
from sechelp import ALWAYS_FIRING, BASIC, PASSWORD, USER, client_context

from pharos.config.loader import ConfigError, parse_config
from pharos.metrics.scrape.client import auth_headers
from pharos.rules.notifier import endpoints_from_config

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"


@pytest.fixture
def alertmanager(tmp_path: Path, ca: dict[str, Path]) -> Iterator[httpx.Client]:
    """Alertmanager 0.25 on https://127.0.0.1:<port> requiring USER/PASSWORD; a client of it."""
    assert shutil.which(ALERTMANAGER), "prometheus-alertmanager 0.25 is required"
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "am-web.yml"
    web.write_text(
        f"tls_server_config: {{cert_file: {ca['server.pem']}, key_file: {ca['server.key']}}}\n"
        f"basic_auth_users: {{{USER}: '{hashed}'}}\n"
    )
    config = tmp_path / "am.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    port = free_port()
    argv = [
        ALERTMANAGER,
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.config.file={web}",
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'am-data'}",
        "--cluster.listen-address=",
    ]
    log = (tmp_path / "am.log").open("wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(
        base_url=f"https://127.0.0.1:{port}", auth=BASIC, verify=client_context(ca["ca.pem"]), timeout=10
    )
    try:
        wait_for(lambda: _ready(client), what="alertmanager ready")
        yield client
    finally:
        client.close()
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/-/ready").status_code == 200
    except httpx.HTTPError:
        return False


def test_password_file_and_ca_file(
    start_module: Any, tmp_path: Path, ca: dict[str, Path], alertmanager: httpx.Client
) -> None:
    assert httpx.get(f"{alertmanager.base_url}/api/v2/alerts", verify=False).status_code == 401
    port = alertmanager.base_url.port
    (tmp_path / "rules.yml").write_text(ALWAYS_FIRING)
    (tmp_path / "am.pass").write_text(PASSWORD + "\n")
    auth = f"basic_auth: {{username: {USER}, password_file: {tmp_path / 'am.pass'}}}"
    config = (
        f"global: {{evaluation_interval: 1s}}\nrule_files: ['{tmp_path / 'rules.yml'}']\n"
        "alerting:\n  alertmanagers:\n"
        f"    - {{scheme: https, static_configs: [{{targets: ['127.0.0.1:{port}']}}], {auth},\n"
        f"       tls_config: {{ca_file: {ca['ca.pem']}}}}}\n"
        f"    - {{scheme: https, static_configs: [{{targets: ['localhost:{port}']}}], {auth}}}\n"
    )
    server = start_module(config)

    def delivered() -> bool:
        return any(
            a["labels"]["alertname"] == "InternalAlways" for a in alertmanager.get("/api/v2/alerts").json()
        )

    wait_for(delivered, what="the alert in Alertmanager 0.25")
    wait_for(
        lambda: f"https://localhost:{port}/api/v2/alerts failed" in server.log(), what="the untrusted one"
    )
    assert "CERTIFICATE_VERIFY_FAILED" in server.log()
    assert f"https://127.0.0.1:{port}/api/v2/alerts failed" not in server.log()


def test_alertmanager_entries_take_the_http_client_config(tmp_path: Path) -> None:
    (tmp_path / "tok").write_text("t0k\n")
    text = (
        "alerting:\n  alertmanagers:\n"
        "    - {static_configs: [{targets: ['am:9093']}], bearer_token_file: tok, tls_config: {ca_file: ca.pem}}\n"
    )
    [am] = parse_config(text, base_dir=tmp_path).config.alerting.alertmanagers  # type: ignore[union-attr]
    assert am.tls_config is not None and am.tls_config.ca_file == str(tmp_path / "ca.pem")
    [endpoint] = endpoints_from_config(parse_config(text, base_dir=tmp_path).config.alerting)
    assert auth_headers(endpoint.http) == {"Authorization": "Bearer t0k"}
    bad = "alerting: {alertmanagers: [{basic_auth: {username: a, password: b}, bearer_token: c}]}\n"
    with pytest.raises(ConfigError, match="at most one of basic_auth, oauth2, bearer_token"):
        parse_config(bad)
