"""UI benchmark: a dashboard of 8 panels x 50 series x 1,000 points in headless chromium; prints
the time from navigation to "all panels drawn". Floor <= 2 s, target <= 0.7 s on this machine.

Data: 50 series backfilled with `pharos import openmetrics` (1,000 samples each), served by a
`pharos up` on a free port. Run: .venv/bin/python benchmarks/ui.py  (needs `make ui`, chromium).

Every panel queries `bench_value`, so the UI sends one request that all 8 panels share.
`--distinct` gives each panel its own spelling of the query (`bench_value{series!="none-N"}`,
same 50 series) so that 8 requests reach the server, as on a dashboard of different queries.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SERIES, POINTS, PANELS, STEP = 50, 1000, 8, 15


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--distinct", action="store_true", help="a different query text per panel (no request sharing)")
    args = ap.parse_args()
    bindir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        end = int(time.time()) // STEP * STEP - 60
        start = end - (POINTS - 1) * STEP
        om = Path(tmp) / "bench.om"
        with om.open("w") as f:
            f.write("# TYPE bench_value gauge\n")
            for s in range(SERIES):
                for i in range(POINTS):
                    f.write(f'bench_value{{series="s{s:02d}"}} {((s * 7 + i) % 100) / 3:.3f} {start + i * STEP}\n')
            f.write("# EOF\n")
        subprocess.run([bindir / "pharos", "import", "openmetrics", str(om), "--data-dir", str(data)], check=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        proc = subprocess.Popen([bindir / "pharos", "server", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if b"Ready" in urllib.request.urlopen(f"{base}/-/ready", timeout=2).read():
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            panels = [{"id": i + 1, "type": "timeseries", "title": f"panel {i}", "gridPos": {"x": 0, "y": i * 8, "w": 24, "h": 8},
                       "maxDataPoints": POINTS, "interval": f"{STEP}s", "targets": [{"refId": "A", "expr": f'bench_value{{series!="none-{i}"}}' if args.distinct else "bench_value"}]}
                      for i in range(PANELS)]
            body = json.dumps({"dashboard": {"uid": "bench", "title": "bench", "panels": panels}, "overwrite": True}).encode()
            urllib.request.urlopen(urllib.request.Request(f"{base}/api/pharos/v1/dashboards", data=body, method="POST",
                                                          headers={"Content-Type": "application/json"}))
            url = f"{base}/d/bench?from={start * 1000}&to={end * 1000}"
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(url)  # warm-up (caches, JIT)
                page.wait_for_function(f"Object.keys(window.__pharos.charts).length >= {PANELS}", timeout=60_000)
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    page.goto(url)
                    page.wait_for_function(
                        f"Object.values(window.__pharos.charts).filter(c => c.seriesCount === {SERIES}).length >= {PANELS}",
                        timeout=60_000, polling="raf")
                    times.append(time.perf_counter() - t0)
                    drawn = page.evaluate("Object.values(window.__pharos.charts).map(c => c.points)")
                browser.close()
            times.sort()
            print(f"{PANELS} panels x {SERIES} series x {POINTS} points{' (distinct queries)' if args.distinct else ''}: all panels drawn in "
                  f"median {times[len(times) // 2]:.3f} s (min {times[0]:.3f} s, max {times[-1]:.3f} s); "
                  f"points per panel {drawn[0]} (floor 2 s, target 0.7 s)")
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
