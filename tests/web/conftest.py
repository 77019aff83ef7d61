"""Browser tests: a real `pharos up` on a free port scraping itself, driven by Playwright in
Debian's chromium. Screenshots go to tests/web/artifacts/ (gitignored)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "pharos" / "web" / "static" / "index.html"
ARTIFACTS = Path(__file__).parent / "artifacts"



# An alert that fires at once (for: 0s) and one that stays pending, with labels and annotations.
RULES = """groups:
  - name: web-test
    interval: 1s
    rules:
      - alert: WebTestAlways
        expr: vector(1) > 0
        for: 0s
        labels: {severity: warning, team: web}
        annotations: {summary: "always firing", description: "vector(1) > 0 holds"}
      - alert: WebTestPending
        expr: vector(1) > 0
        for: 1h
        labels: {severity: critical}
      - record: job:up:sum
        expr: sum by (job) (up)
"""

LEVELS = ["info", "warn", "error", "debug"]


def seed_streams(port: int) -> list[dict[str, object]]:
    """Log lines pushed before the tests: a JSON app stream and a logfmt one in a pod, 150 lines
    for paging, and lines labelled like the scraped pharos target (job, instance)."""
    now = time.time_ns()
    sec = 1_000_000_000
    checkout = [
        [str(now - (40 - i) * sec), json.dumps({"level": LEVELS[i % 4], "msg": f"order {i}", "status": 500 if i % 5 == 0 else 200})]
        for i in range(40)
    ]
    cart = [
        [str(now - (30 - i) * sec), f'level={LEVELS[i % 4]} msg="cart {i}{" timeout" if i % 10 == 0 else ""}" user=u{i % 3}']
        for i in range(30)
    ]
    paging = [[str(now - (150 - i) * sec // 10), f"page line {i}"] for i in range(150)]
    own = [[str(now - (10 - i) * sec), f"level=info msg=\"pharos line {i}\""] for i in range(10)]
    pod = {"namespace": "shop", "container": "app"}
    return [
        {"stream": {**pod, "app": "checkout", "pod": "checkout-1"}, "values": checkout},
        {"stream": {**pod, "app": "cart", "pod": "cart-1"}, "values": cart},
        {"stream": {"app": "paging"}, "values": paging},
        {"stream": {"job": "pharos", "instance": f"127.0.0.1:{port}"}, "values": own},
    ]


def push_logs(base: str, streams: list[dict[str, object]]) -> None:
    req = urllib.request.Request(
        f"{base}/loki/api/v1/push", data=json.dumps({"streams": streams}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204, r.status


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def wait_until(fn: object, timeout: float = 20.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        got = fn()  # type: ignore[operator]
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A pharos with at least two scrapes of itself (so rates have data)."""
    data = tmp_path_factory.mktemp("pharos-web")
    port = _free_port()
    config = data / "pharos.yml"
    rules = data / "rules.yml"
    rules.write_text(RULES)
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        f"rule_files: ['{rules}']\n"
        "monitors:\n  - {name: web-config, type: metric, query: vector(1), interval: 1s, thresholds: {critical: 10}}\n"
        f"scrape_configs:\n  - job_name: pharos\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
    )
    exe = shutil.which("pharos", path=str(Path(sys.executable).parent)) or "pharos"
    proc = subprocess.Popen(
        [exe, "up", "--data-dir", str(data / "d"), "--listen", f"127.0.0.1:{port}", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if b"Ready" in _get(f"{base}/-/ready") and b'"pharos"' in _get(
                f"{base}/api/v1/query?query=count_over_time(up%5B1m%5D)%3E3"
            ):
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"pharos did not become ready: {proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.3)
    push_logs(base, seed_streams(port))
    yield base
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    playwright_sync = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make peers installs it)")
    if not STATIC.exists():
        pytest.skip("the UI is not built (make ui)")
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


class ConsoleLog:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def attach(self, page: object) -> None:
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)  # type: ignore[attr-defined]
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))  # type: ignore[attr-defined]


@pytest.fixture
def page(browser: object) -> Iterator[tuple[object, ConsoleLog]]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    pg = ctx.new_page()
    log = ConsoleLog()
    log.attach(pg)
    yield pg, log
    ctx.close()


def shot(page: object, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)  # type: ignore[attr-defined]
