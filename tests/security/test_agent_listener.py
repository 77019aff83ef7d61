"""`pharos agent --web.config.file` (exporter-toolkit's format) on a real agent process: https
with the throwaway CA's certificate, bcrypt basic-auth users (401 without them), client
certificates with RequireAndVerifyClientCert, and one clear line for a file it cannot use."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pharos_testproc import free_port, pharos_cmd, run_cli, wait_for
from sechelp import BASIC, PASSWORD, USER, client_context

from pharos.agent.webconfig import WebConfig, WebConfigError

HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
Agent = Callable[..., str]  # (web config text) -> the agent's https base URL


def web_config(folder: Path, ca: dict[str, Path], extra: str = "") -> Path:
    """A web config next to copies of the server certificate, naming them relatively."""
    for name in ("server.pem", "server.key", "ca.pem"):
        shutil.copy(ca[name], folder / name)
    path = folder / "web.yml"
    path.write_text(
        f"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n{extra}"
        f"basic_auth_users:\n  {USER}: '{HASH}'\n"
    )
    return path


def agent_args(folder: Path, port: int, web: Path) -> list[str]:
    """`pharos agent` on 127.0.0.1:port with `web`, tailing nothing, pushing nowhere."""
    return [
        "agent",
        "--listen",
        f"127.0.0.1:{port}",
        "--web.config.file",
        str(web),
        "--logs",
        str(folder / "none" / "*.log"),
        "--positions",
        str(folder / "positions.db"),
        "--push-url",
        f"http://127.0.0.1:{free_port()}/loki/api/v1/push",
    ]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    """Start agents with a web config file; stopped in teardown."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(web: Path, ready: httpx.Client) -> str:
        port = free_port()
        log = (tmp_path / f"agent-{port}.log").open("wb")
        argv = pharos_cmd(*agent_args(tmp_path, port, web))
        procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path))
        url = f"https://127.0.0.1:{port}"
        wait_for(lambda: _answers(ready, f"{url}/-/healthy"), what="the agent's https listener")
        return url

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def test_https_and_basic_auth(agent: Agent, tmp_path: Path, ca: dict[str, Path]) -> None:
    verify = client_context(ca["ca.pem"])
    authed = httpx.Client(verify=verify, auth=BASIC, trust_env=False, timeout=10)
    with authed, httpx.Client(verify=verify, trust_env=False, timeout=10) as client:
        url = agent(web_config(tmp_path, ca), authed)
        anonymous = client.get(f"{url}/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"] == "Basic"
        assert client.get(f"{url}/metrics", auth=(USER, "wrong")).status_code == 401
        assert client.get(f"{url}/metrics", auth=("mallory", PASSWORD)).status_code == 401
        metrics = client.get(f"{url}/metrics", auth=BASIC)
        assert metrics.status_code == 200
        assert "pharos_agent_" in metrics.text
    with httpx.Client(trust_env=False, timeout=10) as untrusting, pytest.raises(httpx.ConnectError):
        untrusting.get(f"{url}/metrics", auth=BASIC)
    with httpx.Client(trust_env=False, timeout=10) as plain, pytest.raises(httpx.HTTPError):
        plain.get(url.replace("https", "http", 1) + "/metrics", auth=BASIC)


def test_client_certificates(agent: Agent, tmp_path: Path, ca: dict[str, Path]) -> None:
    extra = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n"
    with_cert = client_context(ca["ca.pem"], (ca["client.pem"], ca["client.key"]))
    client = httpx.Client(verify=with_cert, auth=BASIC, trust_env=False, timeout=10)
    with client:
        url = agent(web_config(tmp_path, ca, extra), client)
        assert client.get(f"{url}/metrics").status_code == 200
    anonymous = httpx.Client(verify=client_context(ca["ca.pem"]), auth=BASIC, trust_env=False, timeout=10)
    with anonymous, pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        anonymous.get(f"{url}/metrics")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rate_limit: {burst: 1}\n", "keys not supported by pharos agent: ['rate_limit']"),
        ("tls_server_config: {cert_file: server.pem}\n", "tls_server_config: missing key_file"),
        ("tls_server_config: {cert_file: no.pem, key_file: no.key}\n", "cannot load"),
        (
            "tls_server_config: {cert_file: a, key_file: b, client_auth_type: RequireAnyClientCert}\n",
            "client_auth_type 'RequireAnyClientCert' is not one of",
        ),
        ("basic_auth_users: [alice]\n", "basic_auth_users: expected user: bcrypt hash pairs"),
    ],
)
def test_an_unusable_file_stops_the_start_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    web = tmp_path / "web.yml"
    web.write_text(text)
    done = run_cli(*agent_args(tmp_path, free_port(), web), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line
    assert f"web config {web}" in done.stderr and message in done.stderr


VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
KEYS = st.sampled_from(
    ["tls_server_config", "basic_auth_users", "cert_file", "key_file", "client_auth_type", "min_version", "x"]
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, VALUES | st.dictionaries(KEYS, VALUES, max_size=4), max_size=3))
def test_any_document_loads_or_is_a_web_config_error(doc: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "web.yml"
        path.write_text(yaml.safe_dump(doc))
        try:
            config = WebConfig(path)
        except WebConfigError as exc:
            assert str(exc).startswith(f"web config {path}")
        else:
            assert config.ssl is None  # no certificate exists here, so TLS never loads


async def test_users_are_reread_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users: {{{USER}: '{HASH}'}}\n")
    config = WebConfig(path)
    header = b"Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode())
    assert await config.authorized(header)
    assert not await config.authorized(None)
    path.write_text(f"basic_auth_users: {{bob: '{HASH}'}}\n")
    os.utime(path, (1, 1))
    assert not await config.authorized(header)
    path.write_text("basic_auth_users: [broken]\n")
    os.utime(path, (2, 2))
    with pytest.raises(WebConfigError, match="basic_auth_users"):
        await config.authorized(header)
