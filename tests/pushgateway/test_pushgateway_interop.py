"""The same prometheus_client push/pushadd/delete sequence against the real prometheus-pushgateway
1.5 and against pharos: the same groups (status JSON), the same answers, and pharos' TSDB holds
what Prometheus scraping that Pushgateway with honor_labels: true would store."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import free_port, read_all
from pgw_helpers import Pgw, start_pgw, stop_pgw
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from prometheus_client.exposition import delete_from_gateway, push_to_gateway, pushadd_to_gateway

from pharos.metrics.exposition import ExpositionFormat, parse
from pharos.metrics.model import make_labels

PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
pytestmark = pytest.mark.interop
TIME_FAMILIES = ("push_time_seconds", "push_failure_time_seconds")
PREFIX = "pushed metrics are invalid or inconsistent with existing metrics: collected metric"


@pytest.fixture
def real(tmp_path: Path) -> Iterator[str]:
    assert shutil.which(PUSHGATEWAY), "prometheus-pushgateway 1.5 is required"
    port = free_port()
    log = (tmp_path / "pushgateway.log").open("wb")
    proc = subprocess.Popen(
        [
            PUSHGATEWAY,
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-admin-api",
            "--persistence.file=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(url + "/-/ready").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "pushgateway did not start"
        time.sleep(0.05)
    yield url
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture
def ours(tmp_path: Path) -> Iterator[Pgw]:
    p = start_pgw(tmp_path / "pharos")
    yield p
    stop_pgw(p)


def registries() -> dict[str, CollectorRegistry]:
    """Registries of every metric type, one per push."""
    batch = CollectorRegistry()
    Counter("jobs_processed", "Jobs processed.", ["queue"], registry=batch).labels("a").inc(7)
    Gauge("last_success_unixtime", "Last success.", registry=batch).set(1_700_000_000.5)
    h = Histogram("job_duration_seconds", "Duration.", buckets=(0.1, 1.0, 10.0), registry=batch)
    for v in (0.05, 0.5, 2.0, 20.0):
        h.observe(v)
    s = Summary("job_payload_bytes", "Payload.", registry=batch)
    s.observe(1024)
    extra = CollectorRegistry()
    Gauge("records_written", "Records.", ["table"], registry=extra).labels("t1").set(42)
    Gauge("last_success_unixtime", "Last success.", registry=extra).set(1_700_000_100)
    clash = CollectorRegistry()
    Gauge("jobs_processed_total", "Now a gauge.", ["queue"], registry=clash).labels("b").set(1)
    return {"batch": batch, "extra": extra, "clash": clash}


def sequence(url: str, regs: dict[str, CollectorRegistry]) -> list[str]:
    """The client calls; each answer recorded ('ok' or the client's error text)."""
    calls: list[Callable[[], Any]] = [
        lambda: push_to_gateway(url, job="nightly", registry=regs["batch"], grouping_key={"instance": "db1"}),
        lambda: pushadd_to_gateway(
            url, job="nightly", registry=regs["extra"], grouping_key={"instance": "db1"}
        ),
        lambda: push_to_gateway(
            url, job="etl", registry=regs["extra"], grouping_key={"path": "/var/x", "e": ""}
        ),
        lambda: pushadd_to_gateway(url, job="etl", registry=regs["clash"], grouping_key={"shard": "2"}),
        lambda: push_to_gateway(url, job="gone", registry=regs["batch"]),
        lambda: delete_from_gateway(url, job="gone"),
        lambda: push_to_gateway(url, job="replace me", registry=regs["batch"]),
        lambda: push_to_gateway(url, job="replace me", registry=regs["extra"]),
        lambda: pushadd_to_gateway(url, job="empty", registry=CollectorRegistry()),
    ]
    answers = []
    for call in calls:
        try:
            call()
            answers.append("ok")
        except Exception as exc:
            answers.append(str(exc))
    return answers


def normalized_status(url: str) -> list[dict[str, Any]]:
    """The status JSON without push times (values and time stamps differ by nature)."""
    out = []
    for g in httpx.get(url + "/api/v1/metrics").json()["data"]:
        group = {}
        for key, fam in g.items():
            if isinstance(fam, dict) and "metrics" in fam:
                fam = {k: v for k, v in fam.items() if k != "time_stamp"}
                if key in TIME_FAMILIES:
                    fam["metrics"] = [{**m, "value": m["value"] != "0"} for m in fam["metrics"]]
            group[key] = fam
        out.append(group)
    return sorted(out, key=lambda g: sorted(g["labels"].items()))


def comparable(name: str, value: float) -> float | bool:
    """Push times differ by nature: only whether one is set is compared."""
    return value != 0 if name in TIME_FAMILIES else value


def scraped_series(url: str) -> dict[tuple[tuple[str, str], ...], float | bool]:
    """What Prometheus stores from a scrape of the Pushgateway with honor_labels: true (its own
    go_/process_/pushgateway_ metrics left out: they carry no job label)."""
    body = httpx.get(url + "/metrics").content
    out: dict[tuple[tuple[str, str], ...], float | bool] = {}
    for s in parse(body, ExpositionFormat.PROMETHEUS_TEXT).samples:
        d = dict(s.labels)
        if "job" not in d:
            continue
        out[make_labels(d)] = comparable(d["__name__"], s.value)
    return out


def stored_series(p: Pgw) -> dict[tuple[tuple[str, str], ...], float | bool]:
    p.server.call(p.service.ingest_once)
    out: dict[tuple[tuple[str, str], ...], float | bool] = {}
    for labels, samples in read_all(p.runtime.tsdb).items():
        out[labels] = comparable(dict(labels)["__name__"], samples[-1][1])
    return out


def test_same_sequence_same_groups(real: str, ours: Pgw) -> None:
    regs = registries()
    answers_real, answers_ours = sequence(real, regs), sequence(ours.url, regs)
    assert answers_ours == answers_real
    assert answers_real.count("ok") == len(answers_real) - 1  # the counter/gauge clash is refused
    assert normalized_status(ours.url) == normalized_status(real)
    assert stored_series(ours) == scraped_series(real)


def test_same_refusals(real: str, ours: Pgw) -> None:
    requests = [
        ("PUT", "/metrics/job/a", b"bar 2\n"),
        ("POST", "/metrics/job/b", b"# TYPE bar gauge\nbar 1\n"),
        ("POST", "/metrics/job/t", b"baz 1 1700000000000\n"),
        ("POST", "/metrics/job/d", b"y 1\ny 2\n"),
        ("POST", "/metrics/job/j/a", b"y 1\n"),
        ("POST", "/metrics/job/j/__x/1", b"y 1\n"),
        ("DELETE", "/metrics/job/a", b""),
        ("PUT", "/metrics/job@base64/Zm9vL2Jhcg/a@base64/=", b"z 1\n"),
    ]
    for method, path, body in requests:
        r1 = httpx.request(method, real + path, content=body)
        r2 = ours.client.request(method, path, content=body)
        if path == "/metrics/job/b":
            # Go merges groups in map order: which of the two families is "first" varies
            assert (r2.status_code, r1.status_code) == (400, 400)
            assert r1.text.startswith(PREFIX) and r2.text.startswith(PREFIX) and "is not a" in r1.text
            continue
        assert (r2.status_code, r2.text) == (r1.status_code, r1.text), path
    assert normalized_status(ours.url) == normalized_status(real)
    assert (
        httpx.put(real + "/api/v1/admin/wipe").status_code
        == ours.client.put("/api/v1/admin/wipe").status_code
    )
    assert normalized_status(ours.url) == normalized_status(real) == []
