"""Side by side with the real Prometheus 2.42: it scrapes a body, we parse the same body."""

from __future__ import annotations

import http.server
import json
import math
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pharos.metrics.exposition import ExpositionFormat, ParseError, format_from_content_type, parse

pytestmark = pytest.mark.interop

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling",
             "scrape_series_added"}

OM_BODY = """# HELP req Requests.
# TYPE req counter
req_total{path="/a\\"b",code="200"} 7
req_created{path="/a\\"b",code="200"} 1.7e+09
# TYPE lat_seconds histogram
# UNIT lat_seconds seconds
lat_seconds_bucket{le="0.5"} 3 # {trace_id="abc"} 0.3 1700000000.123
lat_seconds_bucket{le="+Inf"} 5
lat_seconds_sum 2.5
lat_seconds_count 5
lat_seconds_created 1.6e+09
# TYPE temp gauge
temp{room="a\\\\b\\nc"} NaN
temp{room="x"} -Inf
# TYPE info_thing info
info_thing_info{version="1.2"} 1
# EOF
"""

TEXT_BODY = """# HELP http_total Total.
# TYPE http_total counter
http_total{method="get",empty=""} 12
http_total{method="post"} +Inf
weird{a="tab\\there"} 1e3
untyped_thing 0.125
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Target:
    """A loopback HTTP server serving one body with one Content-Type."""

    def __init__(self, body: str, content_type: str) -> None:
        payload = body.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Prometheus:
    """A throwaway prometheus scraping the given targets every second."""

    def __init__(self, targets: dict[str, int], workdir: Path) -> None:
        self.port = _free_port()
        jobs = "".join(
            f"  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
            for job, port in targets.items()
        )
        config = workdir / "prometheus.yml"
        config.write_text(f"global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n{jobs}")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def api(self, path: str, **params: str) -> object:
        url = f"http://127.0.0.1:{self.port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return json.loads(resp.read())["data"]

    def wait_scraped(self, job: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.api("query", query=f'scrape_samples_scraped{{job="{job}"}}')["result"]:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"prometheus did not scrape {job}")

    def series(self, job: str) -> set[tuple[tuple[str, str], ...]]:
        found = self.api("series", **{"match[]": f'{{job="{job}"}}'})
        out = set()
        for s in found:
            if s["__name__"] in SYNTHETIC:
                continue
            out.add(tuple(sorted((k, v) for k, v in s.items() if k not in ("job", "instance"))))
        return out

    def values(self, job: str) -> dict[tuple[tuple[str, str], ...], str]:
        result = self.api("query", query=f'{{job="{job}"}}')["result"]
        return {
            tuple(sorted((k, v) for k, v in r["metric"].items() if k not in ("job", "instance"))): r["value"][1]
            for r in result if r["metric"]["__name__"] not in SYNTHETIC
        }

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture(scope="module")
def scraped() -> Iterator[_Prometheus]:
    targets = {
        "om": _Target(OM_BODY, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "text": _Target(TEXT_BODY, "text/plain; version=0.0.4; charset=utf-8"),
        "nocontenttype": _Target(TEXT_BODY, ""),
    }
    with tempfile.TemporaryDirectory() as tmp:
        prom = _Prometheus({job: t.port for job, t in targets.items()}, Path(tmp))
        try:
            for job in targets:
                prom.wait_scraped(job)
            yield prom
        finally:
            prom.close()
            for t in targets.values():
                t.close()


def _go_value(v: float) -> str:
    """Prometheus's JSON rendering of a sample value."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v).removesuffix(".0") if v == int(v) and abs(v) < 1e15 else repr(v)


@pytest.mark.parametrize(("job", "body", "content_type"), [
    ("om", OM_BODY, "application/openmetrics-text; version=1.0.0; charset=utf-8"),
    ("text", TEXT_BODY, "text/plain; version=0.0.4; charset=utf-8"),
    ("nocontenttype", TEXT_BODY, ""),
])
def test_same_series_and_values_as_prometheus(scraped: _Prometheus, job: str, body: str, content_type: str) -> None:
    ours = parse(body.encode(), format_from_content_type(content_type))
    expected = {s.labels: _go_value(s.value) for s in ours.samples}
    assert scraped.series(job) == set(expected)
    assert scraped.values(job) == expected


def test_created_lines_are_ordinary_samples(scraped: _Prometheus) -> None:
    names = {dict(s)["__name__"] for s in scraped.series("om")}
    assert {"req_created", "lat_seconds_created"} <= names
    ours = parse(OM_BODY.encode(), ExpositionFormat.OPENMETRICS)
    assert [s.value for s in ours.samples if s.labels[0][1] == "req_created"] == [1.7e9]


BAD_BODIES = {
    "bad_quote": ("a 1\nb{c='d'} 2\n", "text/plain; version=0.0.4", "expected label value"),
    "bad_hex": ("a 0x1P-3\n", "text/plain; version=0.0.4", "unsupported character in float"),
    "bad_noeof": ("a 1\n", "application/openmetrics-text; version=1.0.0", "data does not end with # EOF"),
}


def test_rejected_bodies_are_rejected_by_both(tmp_path: Path) -> None:
    targets = {job: _Target(body, ct) for job, (body, ct, _) in BAD_BODIES.items()}
    prom = _Prometheus({job: t.port for job, t in targets.items()}, tmp_path)
    try:
        for job in targets:
            prom.wait_scraped(job)
        errors = {t["labels"]["job"]: t["lastError"] for t in prom.api("targets")["activeTargets"]}
        for job in targets:
            assert prom.api("query", query=f'up{{job="{job}"}}')["result"][0]["value"][1] == "0"
    finally:
        prom.close()
        for t in targets.values():
            t.close()
    for job, (body, ct, fragment) in BAD_BODIES.items():
        assert fragment in errors[job]
        with pytest.raises(ParseError, match=r"^line \d+: " + fragment):
            parse(body.encode(), format_from_content_type(ct))
