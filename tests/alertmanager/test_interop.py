"""Interop with the real tools: `amtool` 0.25 against pharos' API v2, and `prometheus` 2.42
delivering alerts into pharos, which notifies a local webhook receiver with the v4 payload."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from e2e_harness import Procs, free_port, http_get, pharos_argv, prometheus_argv, wait_http

from e2e_fixtures import procs

__all__ = ["procs"]

AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"
pytestmark = pytest.mark.interop


class Hook:
    """A threaded HTTP server on 127.0.0.1 collecting webhook bodies."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def eventually(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll until `check()` returns something truthy (a bound on waiting, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


AM_YAML = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  routes:
    - matchers: [team="db"]
      receiver: dba
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
  - name: dba
"""


def _amtool(port: int, *args: str) -> str:
    run = subprocess.run([AMTOOL, f"--alertmanager.url=http://127.0.0.1:{port}", *args],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, f"amtool {args}: {run.stderr}"
    return run.stdout


def _start_pharos(procs: Procs, tmp_path: Path, *extra: str, config: str = "") -> int:
    port = free_port()
    cfg = tmp_path / "pharos.yml"
    cfg.write_text(config)
    proc = procs.start("pharos", [*pharos_argv(cfg, tmp_path / "data", port), *extra])
    wait_http(f"http://127.0.0.1:{port}/-/ready", proc, timeout=60)
    return port


def _api(port: int, path: str) -> Any:
    return json.loads(http_get(f"http://127.0.0.1:{port}{path}"))


def test_amtool_against_pharos(procs: Procs, tmp_path: Path, hook: Hook) -> None:
    am_file = tmp_path / "alertmanager.yml"
    am_file.write_text(AM_YAML.format(url=hook.url))
    port = _start_pharos(procs, tmp_path, "--alertmanager-config", str(am_file))
    _amtool(port, "alert", "add", "DiskFull", "instance=db1", "team=ops", "--annotation=summary=disk")
    _amtool(port, "alert", "add", "Replica", "team=db")
    out = _amtool(port, "alert", "query")
    assert "DiskFull" in out and "Replica" in out and "disk" in out
    assert "Replica" not in _amtool(port, "alert", "query", "--receiver=hook")
    sid = _amtool(port, "silence", "add", "instance=~db.*", "-c", "maintenance", "-a", "tester").strip()
    assert len(sid) == 36
    listed = _amtool(port, "silence", "query", "-q")
    assert listed.split() == [sid]
    assert "DiskFull" not in _amtool(port, "alert", "query")
    assert "DiskFull" in _amtool(port, "alert", "query", "--silenced")
    (alert,) = [a for a in _api(port, "/api/v2/alerts") if a["labels"]["alertname"] == "DiskFull"]
    assert alert["status"] == {"inhibitedBy": [], "silencedBy": [sid], "state": "suppressed"}
    _amtool(port, "silence", "expire", sid)
    assert _amtool(port, "silence", "query", "-q").split() == []
    assert sid in _amtool(port, "silence", "query", "--expired", "-q")
    assert "DiskFull" in _amtool(port, "alert", "query")
    routes = _amtool(port, "config", "routes")
    assert '{team="db"}  receiver: dba' in routes
    assert [r["name"] for r in _api(port, "/api/v2/receivers")] == ["hook", "dba"]
    body = eventually(lambda: next((b for b in hook.bodies if b["groupLabels"] == {"alertname": "DiskFull"}),
                                   None), "the webhook")
    assert body["version"] == "4" and body["receiver"] == "hook"
    _check_reload(port, am_file)


def _check_reload(port: int, am_file: Path) -> None:
    """A broken file is refused with file:line and the old config stays; a good one applies."""
    good = am_file.read_text()
    am_file.write_text(good.replace("receiver: dba", "receiver: nobody"))
    request = urllib.request.Request(f"http://127.0.0.1:{port}/-/reload", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    message = info.value.read().decode()
    assert f'{am_file}:9: route.routes[0].receiver: undefined receiver "nobody"' in message
    assert [r["name"] for r in _api(port, "/api/v2/receivers")] == ["hook", "dba"]
    am_file.write_text(good.replace("name: dba", "name: dba2").replace("receiver: dba", "receiver: dba2"))
    urllib.request.urlopen(request, timeout=30)
    assert [r["name"] for r in _api(port, "/api/v2/receivers")] == ["hook", "dba2"]
    assert "DiskFull" in _amtool(port, "alert", "query")  # alerts survive the reload


PROM_RULES = """
groups:
  - name: interop
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
        labels: {severity: page}
        annotations: {summary: "fires at once"}
"""


def test_prometheus_delivers_to_pharos_and_webhook_fires(procs: Procs, tmp_path: Path, hook: Hook) -> None:
    section = "\n".join("  " + line for line in AM_YAML.format(url=hook.url).splitlines())
    port = _start_pharos(procs, tmp_path, config=f"alertmanager:\n{section}\n")
    (tmp_path / "rules.yml").write_text(PROM_RULES)
    prom_cfg = tmp_path / "prometheus.yml"
    prom_cfg.write_text(f"""
global: {{evaluation_interval: 1s}}
rule_files: [{tmp_path / 'rules.yml'}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{port}']}}]
""")
    prom_port = free_port()
    # alerts fired before notifier discovery syncs are resent after resend-delay (default 1m)
    argv = [*prometheus_argv(prom_cfg, tmp_path / "prom-data", prom_port), "--rules.alert.resend-delay=1s"]
    procs.start("prometheus", argv)

    def delivered() -> Any:
        return [a for a in _api(port, "/api/v2/alerts") if a["labels"].get("alertname") == "AlwaysFiring"]

    (alert,) = eventually(delivered, "prometheus' alert in pharos")
    assert alert["labels"] == {"alertname": "AlwaysFiring", "severity": "page"}
    assert alert["annotations"] == {"summary": "fires at once"}
    assert alert["generatorURL"].startswith("http")
    assert alert["receivers"] == [{"name": "hook"}]
    body = eventually(lambda: next(iter(hook.bodies), None), "the webhook notification")
    assert body["version"] == "4" and body["status"] == "firing"
    assert body["groupKey"] == '{}:{alertname="AlwaysFiring"}'
    assert body["alerts"][0]["labels"] == {"alertname": "AlwaysFiring", "severity": "page"}
    assert body["alerts"][0]["fingerprint"] == alert["fingerprint"]
    groups = _api(port, "/api/v2/alerts/groups")
    assert [(g["labels"], g["receiver"]["name"]) for g in groups] == [({"alertname": "AlwaysFiring"}, "hook")]
