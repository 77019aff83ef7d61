"""TLS on a real `pharos server` (loopback, a throwaway CA made with openssl): https and wss for
clients that verify against that CA, refused for clients that do not trust it or speak plain
http; with `client_ca_file`, only clients presenting a certificate of that CA get through."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from pharos_testproc import free_port, run_cli
from sechelp import BASIC, PASSWORD, USER, SecureServer, client_context, open_tail, push_line

TLS = "server:\n  basic_auth: {{username: {user}, password: {password}}}\n  tls_server_config:\n{tls}"


def tls_config(ca: dict[str, Path], client_ca: bool = False) -> str:
    """pharos.yml with basic auth and the CA's server certificate (and client CA)."""
    tls = f"    cert_file: {ca['server.pem']}\n    key_file: {ca['server.key']}\n"
    if client_ca:
        tls += f"    client_ca_file: {ca['ca.pem']}\n"
    return TLS.format(user=USER, password=PASSWORD, tls=tls)


@pytest.fixture(scope="module")
def https(start_module, ca: dict[str, Path]) -> SecureServer:  # type: ignore[no-untyped-def]
    return start_module(tls_config(ca), ca=ca["ca.pem"], auth=BASIC)


def test_https_with_a_verifying_client(https: SecureServer) -> None:
    assert https.url.startswith("https://127.0.0.1:")
    assert push_line(https.client, None, {"app": "tls"}, "over tls").status_code == 204
    assert https.client.get("/loki/api/v1/label/app/values").json()["data"] == ["tls"]
    assert "https://127.0.0.1" in https.log()  # the announced URL says https


def test_untrusting_and_plain_clients_are_refused(https: SecureServer) -> None:
    with httpx.Client(trust_env=False, timeout=10) as system_trust, pytest.raises(httpx.ConnectError):
        system_trust.get(f"{https.url}/-/healthy")
    with httpx.Client(trust_env=False, timeout=10) as plain, pytest.raises(httpx.HTTPError):
        plain.get(f"http://127.0.0.1:{https.port}/api/v1/labels", auth=BASIC)


def test_wss_tail(https: SecureServer, ca: dict[str, Path]) -> None:
    headers = {"Authorization": BASIC._auth_header}
    with open_tail(https, '{app="tls"}', headers, client_context(ca["ca.pem"])) as ws:
        ws.ping().wait(10)


def test_client_certificates_when_client_ca_is_set(start_module, ca: dict[str, Path]) -> None:  # type: ignore[no-untyped-def]
    cert = (ca["client.pem"], ca["client.key"])
    server = start_module(tls_config(ca, client_ca=True), ca=ca["ca.pem"], cert=cert, auth=BASIC)
    assert server.client.get("/api/v1/labels").status_code == 200
    refused = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)
    anonymous = httpx.Client(verify=client_context(ca["ca.pem"]), trust_env=False, timeout=10)
    with anonymous, pytest.raises(refused):
        anonymous.get(f"{server.url}/api/v1/labels", auth=BASIC)


def test_a_missing_certificate_stops_the_start_with_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text(
        f"server:\n  tls_server_config:\n    cert_file: {tmp_path}/no.pem\n    key_file: {tmp_path}/no.key\n"
    )
    done = run_cli(
        "server",
        "--config",
        str(config),
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert done.returncode != 0
    assert f"server.tls_server_config: cannot load {tmp_path}/no.pem" in done.stderr + done.stdout
