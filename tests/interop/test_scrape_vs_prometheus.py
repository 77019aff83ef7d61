"""pharos and the real Prometheus 2.42 scrape the same real node_exporter and the same
prometheus_client application at the same time, with the same scrape_configs; they must end up
with the same series and the same counter samples.
"""

from __future__ import annotations

import math
import struct
import sys
import time
from pathlib import Path

import pytest
from e2e_harness import (
    NODE_EXPORTER,
    Procs,
    api_get,
    free_ports,
    http_get,
    iter_json_lines,
    pharos_argv,
    prometheus_argv,
    scrape_config_yaml,
    wait_http,
)

pytestmark = pytest.mark.interop

APP = Path(__file__).with_name("promclient_app.py")
SCRAPE_SECONDS = 16  # how long both scrape before we compare
TICKS = 'app_ticks_total{unit="quarter"}'
REQUESTS = 'app_requests_total{method="GET",code="200"}'
SLACK_MS = 300  # scrape start vs. the moment the app renders its page, either scraper

# Series that may legitimately differ between two scrapers of the same targets. Keep minimal.
# None today: with node_exporter's default collectors and the app above, two Prometheus
# servers scraping side by side end up with identical series sets (checked by running this
# test with Prometheus in pharos' place), so every difference is a pharos difference.
EXCLUDED_NAMES: frozenset[str] = frozenset()

Series = frozenset[frozenset[tuple[str, str]]]


def start_targets(procs: Procs, node_port: int, app_port: int) -> None:
    node = procs.start("node_exporter", [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{node_port}"])
    app = procs.start("promclient_app", [sys.executable, str(APP), str(app_port)])
    wait_http(f"http://127.0.0.1:{node_port}/metrics", node)
    wait_http(f"http://127.0.0.1:{app_port}/metrics", app)


def start_scrapers(procs: Procs, tmp: Path, ports: list[int]) -> tuple[str, str]:
    node_port, app_port, prom_port, pharos_port = ports
    config = tmp / "prometheus.yml"
    config.write_text(
        scrape_config_yaml({"node": [f"127.0.0.1:{node_port}"], "app": [f"127.0.0.1:{app_port}"]}, "1s")
    )
    prom = procs.start("prometheus", prometheus_argv(config, tmp / "prom-data", prom_port))
    pharos = procs.start("pharos", pharos_argv(config, tmp / "pharos-data", pharos_port))
    prom_url, pharos_url = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{pharos_port}"
    wait_http(prom_url + "/-/ready", prom)
    wait_http(pharos_url + "/-/ready", pharos)
    return prom_url, pharos_url


def series_set(base: str) -> Series:
    data = api_get(base, "/api/v1/series", {"match[]": '{__name__=~".+"}'})
    return frozenset(frozenset(s.items()) for s in data if s["__name__"] not in EXCLUDED_NAMES)


def prom_samples(base: str, selector: str, at: float, window: int) -> dict[int, float]:
    data = api_get(base, "/api/v1/query", {"query": f"{selector}[{window}s]", "time": f"{at:.3f}"})
    assert len(data["result"]) == 1, data
    return {round(float(t) * 1000): float(v) for t, v in data["result"][0]["values"]}


def pharos_samples(base: str, selector: str, start: float, end: float) -> dict[int, float]:
    body = http_get(
        base + "/api/v1/export", {"match[]": selector, "start": f"{start:.3f}", "end": f"{end:.3f}"}
    )
    rows = list(iter_json_lines(body))
    assert len(rows) == 1, rows
    return {int(t): float(v) for t, v in zip(rows[0]["timestamps"], rows[0]["values"], strict=True)}


def describe(diff: Series) -> str:
    return "\n".join(sorted(str(dict(s)) for s in diff)[:30])


def bits(v: float) -> bytes:
    return struct.pack("<d", v)


def check_ticks(prom: dict[int, float], pharos: dict[int, float], start_ms: int, end_ms: int) -> None:
    """The timestamped counter: same value bit for bit wherever both have a sample, and both
    have a sample for (nearly) every second of the window."""
    prom = {t: v for t, v in prom.items() if start_ms <= t <= end_ms}
    pharos = {t: v for t, v in pharos.items() if start_ms <= t <= end_ms}
    common = sorted(prom.keys() & pharos.keys())
    print(f"ticks: prometheus {len(prom)}, pharos {len(pharos)}, common {len(common)} samples")
    mismatched = [(t, prom[t], pharos[t]) for t in common if bits(prom[t]) != bits(pharos[t])]
    assert not mismatched, f"values differ at (ts, prometheus, pharos): {mismatched[:10]}"
    seconds = (end_ms - start_ms) // 1000 + 1
    # A scraper whose phase sits on a second boundary may land twice in one second and skip
    # the next; allow that, not a lost scrape every other second.
    assert len(prom) >= 0.8 * seconds, f"prometheus has {len(prom)}/{seconds}: {sorted(prom)}"
    assert len(pharos) >= 0.8 * seconds, f"pharos has {len(pharos)}/{seconds}: {sorted(pharos)}"
    assert len(common) >= 0.6 * seconds, f"only {len(common)}/{seconds} common timestamps"


def check_requests(prom: dict[int, float], pharos: dict[int, float], window_s: float) -> None:
    """The steadily incremented counter: scraped at different instants, so every pharos sample
    must lie between the Prometheus samples around it, and both sample every scrape. A sample's
    timestamp is its scrape's start, the value is read a little later: Prometheus samples
    closer than SLACK_MS to a pharos one are not used to bound it."""
    p_ts = sorted(prom)
    for t, v in sorted(pharos.items()):
        before = [prom[x] for x in p_ts if x <= t - SLACK_MS]
        after = [prom[x] for x in p_ts if x >= t + SLACK_MS]
        if before and after:
            assert before[-1] <= v <= after[0], (t, v, before[-1], after[0])
    assert all(not math.isnan(v) for v in pharos.values())
    print(f"requests: prometheus {len(prom)}, pharos {len(pharos)} samples in {window_s:.0f}s")
    for name, samples in (("prometheus", prom), ("pharos", pharos)):
        assert len(samples) >= 0.8 * window_s, f"{name}: {len(samples)} samples in {window_s}s"
        values = [samples[t] for t in sorted(samples)]
        assert values == sorted(values), f"{name}: counter went down: {values}"


def wait_for_data(prom_url: str, pharos_url: str) -> None:
    """Let both scrape SCRAPE_SECONDS, failing early if either has not started scraping."""
    deadline = time.time() + SCRAPE_SECONDS
    checked = False
    while time.time() < deadline:
        time.sleep(1.0)
        if not checked and time.time() > deadline - SCRAPE_SECONDS / 2:
            for base in (prom_url, pharos_url):
                up = api_get(base, "/api/v1/series", {"match[]": "up"})
                assert len(up) == 2, f"{base}: up series after {SCRAPE_SECONDS / 2}s: {up}"
            checked = True


def test_same_series_and_samples_as_prometheus(procs: Procs, tmp_path: Path) -> None:
    ports = free_ports(4)
    start_targets(procs, ports[0], ports[1])
    prom_url, pharos_url = start_scrapers(procs, tmp_path, ports)
    wait_for_data(prom_url, pharos_url)

    prom_series, pharos_series = series_set(prom_url), series_set(pharos_url)
    print(f"series: prometheus {len(prom_series)}, pharos {len(pharos_series)}")
    assert len(prom_series) > 300, len(prom_series)  # node_exporter + the app really scraped
    assert not prom_series - pharos_series, "missing in pharos:\n" + describe(prom_series - pharos_series)
    assert not pharos_series - prom_series, "extra in pharos:\n" + describe(pharos_series - prom_series)

    end = float(int(time.time()) - 2)  # every sample at or before `end` was scraped by both
    window = SCRAPE_SECONDS + 10
    ticks_p = prom_samples(prom_url, TICKS, end, window)
    ticks_x = pharos_samples(pharos_url, TICKS, end - window, end)
    start_ms = max(min(ticks_p), min(ticks_x))
    check_ticks(ticks_p, ticks_x, start_ms, int(end * 1000))

    req_p = prom_samples(prom_url, REQUESTS, end, window)
    req_x = pharos_samples(pharos_url, REQUESTS, end - window, end)
    first = max(min(req_p), min(req_x))
    req_p = {t: v for t, v in req_p.items() if t >= first}
    req_x = {t: v for t, v in req_x.items() if t >= first}
    check_requests(req_p, req_x, (end * 1000 - first) / 1000.0)
