"""pharos and the real Prometheus 2.42 run the same rule file over the same loopback target;
/api/v1/rules and /api/v1/alerts are compared side by side. pharos also sends its alerts to the
real Alertmanager 0.25, whose API must show them."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from pharos_testproc import PharosProcess, free_port, wait_for

PROMETHEUS = "/usr/bin/prometheus"
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
pytestmark = pytest.mark.interop

METRICS = b"""# TYPE demo_up gauge
demo_up{instance="db1:9100",role="db"} 0
demo_up{instance="web1:9100",role="web"} 1
# TYPE demo_temp gauge
demo_temp{room="a"} 21.5
demo_temp{room="b"} 1234567
"""

RULES = """groups:
  - name: recording
    interval: 1s
    rules:
      - record: room:demo_temp:x2
        expr: demo_temp * 2
        labels: {source: rule}
      - record: demo:up:sum
        expr: sum by (role) (demo_up)
  - name: alerts
    interval: 1s
    limit: 10
    rules:
      - alert: DemoDown
        expr: demo_up == 0
        labels:
          severity: page
          host: '{{ $labels.instance | stripPort }}'
        annotations:
          summary: '{{ $labels.instance }} is down ({{ $value }})'
          temp: '{{ with query "demo_temp{room=\\"b\\"}" }}{{ . | first | value | humanize }}{{ end }}'
      - alert: HotRoom
        expr: demo_temp > 100
        for: 1h
        keep_firing_for: 5m
        annotations:
          value: '{{ humanize $value }}'
      - alert: NeverFires
        expr: demo_temp > 1e12
      - alert: Broken
        expr: demo_temp + on(room) group_left demo_up
"""


class _Target(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(METRICS)

    def log_message(self, *args: Any) -> None:
        pass


class Pair:
    def __init__(self, prom: httpx.Client, pharos: httpx.Client, am: httpx.Client) -> None:
        self.prom, self.pharos, self.am = prom, pharos, am


def _spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=log.open("wb"), stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    assert shutil.which(PROMETHEUS), "prometheus 2.42 is required"
    assert shutil.which(ALERTMANAGER), "alertmanager 0.25 is required"
    tmp = tmp_path_factory.mktemp("rules-interop")
    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    rules = tmp / "rules.yml"
    rules.write_text(RULES)
    am_port = free_port()
    am = _spawn([ALERTMANAGER, f"--web.listen-address=127.0.0.1:{am_port}",
                 f"--storage.path={tmp / 'am-data'}", f"--config.file={_am_config(tmp)}",
                 "--cluster.listen-address="], tmp / "am.log")
    config = (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "  external_labels: {cluster: test}\n"
        f"rule_files: ['{rules}']\n"
        "scrape_configs:\n  - job_name: demo\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target.server_address[1]}']\n"
    )
    (tmp / "prometheus.yml").write_text(config)
    pharos_yml = tmp / "pharos.yml"
    pharos_yml.write_text(config + "alerting:\n  alertmanagers:\n    - static_configs:\n"
                          f"        - targets: ['127.0.0.1:{am_port}']\n")
    prom_port = free_port()
    prom = _spawn([PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}",
                   f"--storage.tsdb.path={tmp / 'prom-data'}",
                   f"--web.listen-address=127.0.0.1:{prom_port}"], tmp / "prometheus.log")
    ph = PharosProcess(tmp, "server", ["--config", str(pharos_yml)])
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in (prom_port, ph.port, am_port)]
    try:
        ph.wait_ready()
        yield Pair(*clients)
    finally:
        for c in clients:
            c.close()
        ph.stop()
        for p in (prom, am):
            p.terminate()
            p.wait(timeout=30)
        target.shutdown()


def _am_config(tmp: Path) -> Path:
    path = tmp / "alertmanager.yml"
    path.write_text("route:\n  receiver: none\n  group_wait: 1h\nreceivers:\n  - name: none\n")
    return path


def _ready(client: httpx.Client) -> bool:
    """Every rule evaluated at least twice after the target was scraped."""
    try:
        data = client.get("/api/v1/rules").json()["data"]["groups"]
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    rules = [r for g in data for r in g["rules"]]
    down = [r for r in rules if r["name"] == "DemoDown"]
    return bool(rules) and bool(down and down[0]["alerts"]) and all(
        r["lastEvaluation"] != "0001-01-01T00:00:00Z" for r in rules
    )


def _normalise(doc: Any) -> Any:
    """Drop what differs by nature (timings, times) and order alerts."""
    if isinstance(doc, dict):
        out = {k: _normalise(v) for k, v in doc.items() if k not in ("evaluationTime", "lastEvaluation", "activeAt")}
        if "alerts" in out and isinstance(out["alerts"], list):
            out["alerts"] = sorted(out["alerts"], key=lambda a: sorted(a["labels"].items()))
        if "lastError" in out:
            out["lastError"] = bool(out["lastError"])
        return out
    if isinstance(doc, list):
        return [_normalise(x) for x in doc]
    return doc


def _both(pair: Pair, path: str) -> tuple[Any, Any]:
    wait_for(lambda: _ready(pair.prom) and _ready(pair.pharos), timeout=60, what="rules evaluated")
    a, b = pair.prom.get(path), pair.pharos.get(path)
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    if os.environ.get("PHAROS_DUMP"):
        for name, r in (("prom", a), ("pharos", b)):
            Path(f"/tmp/{name}.json").write_text(json.dumps(_normalise(r.json()), indent=1, sort_keys=True))
    return a.json(), b.json()


def test_rules_endpoint_matches(pair: Pair) -> None:
    prom, ph = _both(pair, "/api/v1/rules")
    assert _normalise(ph) == _normalise(prom)


@pytest.mark.parametrize("kind", ["alert", "record"])
def test_rules_type_filter_matches(pair: Pair, kind: str) -> None:
    prom, ph = _both(pair, f"/api/v1/rules?type={kind}")
    assert _normalise(ph) == _normalise(prom)


def test_alerts_endpoint_matches(pair: Pair) -> None:
    prom, ph = _both(pair, "/api/v1/alerts")
    assert _normalise(ph) == _normalise(prom)
    times = [a["activeAt"] for a in ph["data"]["alerts"]]
    assert all(t.endswith("Z") and "T" in t for t in times)


def test_alertmanager_receives_pharos_alerts(pair: Pair) -> None:
    def received() -> list[dict[str, Any]]:
        alerts = pair.am.get("/api/v2/alerts").json()
        return [a for a in alerts if a["labels"].get("alertname") == "DemoDown"]

    wait_for(lambda: bool(received()), timeout=60, what="alertmanager got DemoDown")
    alert = received()[0]
    instance = alert["labels"]["instance"]  # the target's; the exposed one became exported_instance
    assert alert["labels"] == {
        "alertname": "DemoDown", "cluster": "test", "host": "127.0.0.1", "instance": instance,
        "exported_instance": "db1:9100", "job": "demo", "role": "db", "severity": "page",
    }
    assert alert["annotations"] == {"summary": f"{instance} is down (0)", "temp": "1.235M"}
    assert alert["status"]["state"] == "active"
    assert "/graph?g0.expr=" in alert["generatorURL"]


def test_rule_evaluation_errors_are_reported(pair: Pair) -> None:
    _prom, ph = _both(pair, "/api/v1/rules?type=alert")
    rules = {r["name"]: r for g in ph["data"]["groups"] for r in g["rules"]}
    assert rules["Broken"]["health"] == "err"
    assert rules["Broken"]["lastError"]
    assert rules["HotRoom"]["state"] == "pending"
