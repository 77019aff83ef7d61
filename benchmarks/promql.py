"""PromQL side by side: pharos vs Prometheus 2.42 on the same imported data (`make bench-promql`).

1. Writes an OpenMetrics file: 100 targets x 100 series (counters, gauges, classic histograms)
   = 10,000 series x 6 h at 15 s, each target's samples at its own sub-second phase, so sample
   timestamps are off the query step grid (2.x and 3.x differ on window edges).
2. Imports it with `pharos import openmetrics` and `promtool tsdb create-blocks-from openmetrics`,
   starts both servers on 127.0.0.1 on those directories.
3. Runs every query of QUERIES instant (at the end), as a 1 h range (step 15 s) and as a 6 h range
   (step 60 s) on both; compares results within 1e-6 relative; reports each latency (median of
   --repeat runs after a warm-up) and the pharos/prometheus ratio.
4. Runs a query over the max-samples limit on pharos and reports the error and its peak RSS.

Usage: .venv/bin/python benchmarks/promql.py [--targets 100] [--hours 6] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e_harness import Procs, hwm_bytes, start_server, wait_http

PROMTOOL = "/usr/bin/promtool"
SCRAPE_S = 15
REL_TOL = 1e-6
ABS_TOL = 1e-9  # sums that cancel to ~0 differ only by float summation order
START_NOTE = (
    "window reaches before the series' first sample: 3.x applies rate()'s zero-point limit after "
    "the 1.1x-interval extrapolation threshold, 2.x before it (prometheus#14045)"
)
_DUR = re.compile(r"(\d+)([smhd])")
_DUR_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
CPUS, MODES = 8, ("user", "system", "idle", "iowait", "irq", "softirq")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
JOBS = ("api", "web", "db", "cache")

# (name, expression, note). A note marks a documented 2.x/3.x difference (not a failure).
SUBQUERY_NOTE = (
    "3.x subquery ranges are left-open: an aligned subquery step at the range start is "
    "excluded in 3.x, included in 2.x"
)
TOPK_NOTE = (
    "3.x sums with Kahan compensation, 2.x with plain addition: per-instance sums that are equal "
    "(integer increases / 285 s) differ in the last bit, so topk keeps another of the tied instances"
)
QUERIES: list[tuple[str, str, str]] = [
    ("rate", "rate(http_requests_total[5m])", ""),
    ("sum by rate", "sum by (job) (rate(http_requests_total[5m]))", ""),
    ("sum by code", 'sum by (job, code) (rate(http_requests_total{code=~"5.."}[5m]))', ""),
    (
        "error ratio",
        'sum by (job) (rate(http_requests_total{code="500"}[5m])) / sum by (job) (rate(http_requests_total[5m]))',
        "",
    ),
    ("increase", "sum by (instance) (increase(http_requests_total[1h]))", ""),
    ("irate", 'irate(cpu_seconds_total{mode="user"}[1m])', ""),
    ("cpu busy", 'sum by (instance) (rate(cpu_seconds_total{mode!="idle"}[5m]))', ""),
    ("cpu util %", '100 * (1 - avg by (instance) (rate(cpu_seconds_total{mode="idle"}[5m])))', ""),
    ("hq p99", "histogram_quantile(0.99, sum by (le) (rate(request_duration_seconds_bucket[5m])))", ""),
    (
        "hq p90 by job",
        "histogram_quantile(0.9, sum by (job, le) (rate(request_duration_seconds_bucket[5m])))",
        "",
    ),
    ("hq p50 per series", "histogram_quantile(0.5, rate(request_duration_seconds_bucket[10m]))", ""),
    (
        "avg latency",
        "sum by (job) (rate(request_duration_seconds_sum[5m])) / sum by (job) (rate(request_duration_seconds_count[5m]))",
        "",
    ),
    ("topk", "topk(5, sum by (instance) (rate(http_requests_total[5m])))", TOPK_NOTE),
    ("bottomk", "bottomk(3, node_temperature_celsius)", ""),
    (
        "group_left join",
        "sum by (instance, job) (rate(http_requests_total[5m])) * on (instance, job) group_left (version) build_info",
        "",
    ),
    (
        "group_left ratio",
        'node_memory_bytes{type="used"} / on (instance) group_left () node_memory_bytes{type="total"}',
        "",
    ),
    ("subquery max", "max_over_time(sum by (job) (rate(http_requests_total[5m]))[30m:1m])", SUBQUERY_NOTE),
    ("subquery avg", "avg_over_time(rate(disk_io_bytes_total[5m])[1h:5m])", SUBQUERY_NOTE),
    ("absent present", 'absent(up_metric{job="api"})', ""),
    ("absent missing", 'absent(nonexistent_metric{job="api"})', ""),
    ("predict_linear", 'predict_linear(node_memory_bytes{type="used"}[30m], 3600)', ""),
    ("deriv", "deriv(queue_length[10m])", ""),
    (
        "label_replace",
        'label_replace(sum by (instance) (rate(http_requests_total[5m])), "host", "$1", "instance", "(.*):.*")',
        "",
    ),
    ("avg_over_time", "avg_over_time(node_temperature_celsius[10m])", ""),
    ("max_over_time", "max by (job) (max_over_time(queue_length[15m]))", ""),
    ("quantile_over_time", "quantile_over_time(0.95, node_temperature_celsius[30m])", ""),
    ("count by", "count by (job) (up_metric == 1)", ""),
    ("count_values", 'count_values("version", build_info)', ""),
    ("quantile agg", "quantile by (job) (0.9, queue_length)", ""),
    ("stddev", "stddev by (job) (node_temperature_celsius)", ""),
    ("delta gauge", "sum by (job) (delta(queue_length[15m]))", ""),
    ("changes/resets", "sum(changes(up_metric[1h])) + sum(resets(http_requests_total[1h]))", ""),
    ("clamp/round", "round(clamp_max(rate(disk_io_bytes_total[5m]) / 1e6, 50), 0.01)", ""),
    (
        "offset compare",
        "sum by (job) (rate(http_requests_total[5m])) / sum by (job) (rate(http_requests_total[5m] offset 1h))",
        "",
    ),
    ("time math", "time() - max by (job) (timestamp(up_metric))", ""),
    ("without", "sum without (cpu, mode) (rate(cpu_seconds_total[5m]))", ""),
]


# ------------------------------------------------------------------------------------ dataset


@dataclass
class Target:
    job: str
    instance: str
    phase: float  # seconds after the 15 s grid


def targets(n: int) -> list[Target]:
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        phase = round(float(rng.uniform(0.05, 14.95)), 3)
        out.append(Target(JOBS[i % len(JOBS)], f"10.0.{i // 250}.{i % 250}:9100", phase))
    return out


def _lines(name: str, labels: str, values: np.ndarray, ts: list[str], fmt: str) -> str:
    vals = [format(float(v), fmt) for v in values]
    return "".join(f"{name}{{{labels}}} {v} {t}\n" for v, t in zip(vals, ts, strict=True))


def _counter(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return np.cumsum(rng.poisson(rate * SCRAPE_S, n)).astype(float)


def write_dataset(path: Path, tgts: list[Target], start_s: int, points: int) -> None:
    """Write the OpenMetrics file (families contiguous, each series' samples in time order)."""
    rng = np.random.default_rng(42)
    steps = np.arange(points) * SCRAPE_S
    ts = {t.instance: [f"{start_s + s + t.phase:.3f}" for s in steps] for t in tgts}
    with path.open("w") as fh:
        fh.write("# TYPE http_requests counter\n")
        for t in tgts:
            for method in ("GET", "POST"):
                for code, rate in (("200", 20.0), ("404", 1.0), ("500", 0.3)):
                    lab = f'job="{t.job}",instance="{t.instance}",method="{method}",code="{code}"'
                    fh.write(
                        _lines("http_requests_total", lab, _counter(rng, points, rate), ts[t.instance], ".0f")
                    )
        fh.write("# TYPE request_duration_seconds histogram\n")
        for t in tgts:
            for handler in ("/api", "/static"):
                _histogram(fh, rng, t, handler, points, ts[t.instance])
        fh.write("# TYPE cpu_seconds counter\n")
        for t in tgts:
            for cpu in range(CPUS):
                for mode in MODES:
                    lab = f'job="{t.job}",instance="{t.instance}",cpu="{cpu}",mode="{mode}"'
                    share = 0.6 if mode == "idle" else 0.08
                    vals = np.cumsum(rng.uniform(0, 2 * share * SCRAPE_S, points))
                    fh.write(_lines("cpu_seconds_total", lab, vals, ts[t.instance], ".3f"))
        fh.write("# TYPE disk_io_bytes counter\n")
        for t in tgts:
            for dev in ("sda", "sdb"):
                for direction in ("read", "write"):
                    lab = f'job="{t.job}",instance="{t.instance}",device="{dev}",direction="{direction}"'
                    fh.write(
                        _lines(
                            "disk_io_bytes_total",
                            lab,
                            _counter(rng, points, 2e6) * 1.0,
                            ts[t.instance],
                            ".0f",
                        )
                    )
        _gauges(fh, rng, tgts, points, ts)
        fh.write("# EOF\n")


def _histogram(
    fh: Any, rng: np.random.Generator, t: Target, handler: str, points: int, ts: list[str]
) -> None:
    obs = rng.poisson(10 * SCRAPE_S, points)
    shares = rng.dirichlet(np.ones(len(BUCKETS) + 1), points)
    per_bucket = np.cumsum(np.round(shares * obs[:, None]), axis=0)  # (points, B+1) counters
    cumulative = np.cumsum(per_bucket, axis=1)
    base = f'job="{t.job}",instance="{t.instance}",handler="{handler}"'
    for i, le in enumerate((*[str(b) for b in BUCKETS], "+Inf")):
        fh.write(_lines("request_duration_seconds_bucket", f'{base},le="{le}"', cumulative[:, i], ts, ".0f"))
    total = cumulative[:, -1]
    fh.write(_lines("request_duration_seconds_sum", base, total * rng.uniform(0.05, 0.3), ts, ".3f"))
    fh.write(_lines("request_duration_seconds_count", base, total, ts, ".0f"))


def _gauges(
    fh: Any, rng: np.random.Generator, tgts: list[Target], points: int, ts: dict[str, list[str]]
) -> None:
    fh.write("# TYPE node_memory_bytes gauge\n")
    for t in tgts:
        total = 16e9
        for kind in ("total", "used", "cached", "free"):
            if kind == "total":
                vals = np.full(points, total)
            else:
                vals = np.clip(total * 0.3 + np.cumsum(rng.normal(0, 5e6, points)), 1e8, total)
            fh.write(
                _lines(
                    "node_memory_bytes",
                    f'job="{t.job}",instance="{t.instance}",type="{kind}"',
                    vals,
                    ts[t.instance],
                    ".0f",
                )
            )
    fh.write("# TYPE node_temperature_celsius gauge\n")
    for t in tgts:
        vals = 50 + np.cumsum(rng.normal(0, 0.2, points))
        fh.write(
            _lines(
                "node_temperature_celsius",
                f'job="{t.job}",instance="{t.instance}"',
                vals,
                ts[t.instance],
                ".3f",
            )
        )
    fh.write("# TYPE build_info gauge\n")
    for i, t in enumerate(tgts):
        lab = f'job="{t.job}",instance="{t.instance}",version="1.{i % 3}.0"'
        fh.write(_lines("build_info", lab, np.ones(points), ts[t.instance], ".0f"))
    fh.write("# TYPE up_metric gauge\n")
    for t in tgts:
        vals = (rng.random(points) > 0.01).astype(float)
        fh.write(_lines("up_metric", f'job="{t.job}",instance="{t.instance}"', vals, ts[t.instance], ".0f"))
    fh.write("# TYPE queue_length gauge\n")
    for t in tgts:
        for q in range(10):
            vals = np.abs(np.cumsum(rng.normal(0, 3, points)))
            fh.write(
                _lines(
                    "queue_length",
                    f'job="{t.job}",instance="{t.instance}",queue="q{q}"',
                    vals,
                    ts[t.instance],
                    ".1f",
                )
            )


# ------------------------------------------------------------------------------------ servers


@dataclass
class Server:
    name: str
    url: str
    pid: int
    latencies: dict[str, float] = field(default_factory=dict)


def run(argv: list[str], what: str) -> float:
    t0 = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return time.monotonic() - t0


def query(base: str, path: str, params: dict[str, str], timeout: float = 300) -> tuple[dict[str, Any], float]:
    """POST a query; (decoded body, seconds)."""
    body = urllib.parse.urlencode(params).encode()
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(base + path, data=body, timeout=timeout) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as err:
        raw = err.read()
    return json.loads(raw), time.perf_counter() - t0


# --------------------------------------------------------------------------------- comparison


def _series(body: dict[str, Any]) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
    data = body.get("data", {})
    kind, result = data.get("resultType"), data.get("result", [])
    if kind == "scalar":
        return {(): [(float(result[0]), float(result[1]))]}
    out = {}
    for item in result:
        key = tuple(sorted(item["metric"].items()))
        points = [item["value"]] if kind == "vector" else item["values"]
        out[key] = [(float(t), float(v)) for t, v in points]
    return out


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b or abs(a - b) <= ABS_TOL:
        return True
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


def reach_s(expr: str) -> int:
    """How far back an expression looks: its longest range or subquery plus its longest offset."""
    ranges = [_seconds(m) for m in re.findall(r"\[([0-9smhd]+)(?::[0-9smhd]*)?\]", expr)]
    offsets = [_seconds(m) for m in re.findall(r"offset ([0-9smhd]+)", expr)]
    return max(ranges, default=300) + max(offsets, default=0)


def _seconds(text: str) -> int:
    return sum(int(n) * _DUR_S[u] for n, u in _DUR.findall(text))


def compare(ours: dict[str, Any], theirs: dict[str, Any], since_s: float = -math.inf) -> str:
    """'' when equal within tolerance, else the first difference at or after `since_s`."""
    if ours.get("status") != theirs.get("status"):
        return f"status {ours.get('status')} vs {theirs.get('status')}: {ours.get('error') or theirs.get('error')}"
    a, b = _series(ours), _series(theirs)
    if set(a) != set(b):
        only = sorted(set(a) ^ set(b))[:1]
        return f"series differ ({len(a)} vs {len(b)}), e.g. {dict(only[0]) if only else ''}"
    for key, pa in a.items():
        pb = b[key]
        if len(pa) != len(pb):
            return f"{dict(key)}: {len(pa)} vs {len(pb)} points"
        for (ta, va), (tb, vb) in zip(pa, pb, strict=True):
            if ta >= since_s and (ta != tb or not _close(va, vb)):
                return f"{dict(key)} @{ta}: {va} vs {vb}"
    return ""


# ------------------------------------------------------------------------------------- driver


def modes(end_s: int) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("instant", "/api/v1/query", {"time": str(end_s)}),
        ("range 1h", "/api/v1/query_range", {"start": str(end_s - 3600), "end": str(end_s), "step": "15"}),
        (
            "range 6h",
            "/api/v1/query_range",
            {"start": str(end_s - 6 * 3600 + 600), "end": str(end_s), "step": "60"},
        ),
    ]


def bench(
    servers: list[Server], end_s: int, hours: float, repeat: int, only: str | None
) -> list[dict[str, Any]]:
    data_start = end_s - hours * 3600 + SCRAPE_S
    rows = []
    for name, expr, note in QUERIES:
        if only and only not in name:
            continue
        for mode, path, extra in modes(end_s):
            params = {"query": expr, **extra}
            bodies: dict[str, dict[str, Any]] = {}
            times: dict[str, float] = {}
            for s in servers:
                bodies[s.name], _ = query(s.url, path, params)  # warm-up, and the result
            for s in servers:
                times[s.name] = statistics.median(query(s.url, path, params)[1] for _ in range(repeat))
            diff = compare(bodies["pharos"], bodies["prometheus"])
            if (
                diff
                and not note
                and not compare(bodies["pharos"], bodies["prometheus"], data_start + reach_s(expr))
            ):
                note = START_NOTE
            row: dict[str, Any] = {
                "query": name,
                "mode": mode,
                "expr": expr,
                "diff": diff,
                "note": note if diff else "",
            }
            row.update({f"{k}_ms": v * 1000 for k, v in times.items()})
            row["ratio"] = times["pharos"] / times["prometheus"]
            rows.append(row)
            status = "ok" if not diff else ("2.x/3.x" if note else "DIFF")
            print(
                f"{name:20s} {mode:9s} pharos {row['pharos_ms']:8.1f} ms  prometheus {row['prometheus_ms']:8.1f} ms"
                f"  {row['ratio']:5.2f}x  {status} {diff[:100]}",
                flush=True,
            )
    return rows


def limit_check(servers: list[Server], end_s: int) -> dict[str, Any]:
    """A query over the 50M max-samples limit (10,000 series x 10,801 steps): each server's error,
    and pharos' peak RSS (VmHWM) afterwards."""
    params = {"query": '{__name__=~".+"}', "start": str(end_s - 6 * 3600), "end": str(end_s), "step": "2"}
    out: dict[str, Any] = {"query": params["query"], "range": "6h step 2s"}
    out["pharos_rss_before_bytes"] = reset_peak_rss(servers[0].pid)
    for s in servers:
        body, seconds = query(s.url, "/api/v1/query_range", params)
        out[s.name] = {
            "errorType": body.get("errorType"),
            "error": body.get("error"),
            "seconds": round(seconds, 2),
        }
    out["pharos_peak_rss_bytes"] = hwm_bytes(servers[0].pid)
    return out


def reset_peak_rss(pid: int) -> int:
    """Reset VmHWM to the current RSS (Linux clear_refs 5) so the next peak is the query's."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return hwm_bytes(pid)


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [r["ratio"] for r in rows] or [math.nan]
    return {
        "evaluations": len(rows),
        "median_ratio": statistics.median(ratios),
        "worst_ratio": max(ratios),
        "worst": max(rows, key=lambda r: r["ratio"])["query"] if rows else "",
        "agree": sum(1 for r in rows if not r["diff"]),
        "documented_differences": sum(1 for r in rows if r["diff"] and r["note"]),
        "differences": [
            f"{r['query']} ({r['mode']}): {r['diff']}" for r in rows if r["diff"] and not r["note"]
        ],
    }


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--targets", type=int, default=100, help="100 series each (default 100 -> 10,000)")
    p.add_argument("--hours", type=float, default=6.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", help="run only queries whose name contains this")
    p.add_argument("--keep", type=Path, help="work directory to keep (and reuse: skips generation/import)")
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "out" / "promql.json")
    return p.parse_args()


def prepare(work: Path, args: argparse.Namespace) -> int:
    """Generate and import the dataset once per work directory; the end time in seconds."""
    meta = work / "meta.json"
    if meta.exists():
        return int(json.loads(meta.read_text())["end_s"])
    points = int(args.hours * 3600 / SCRAPE_S)
    end_s = (int(time.time()) - 600) // 3600 * 3600
    start_s = end_s - points * SCRAPE_S
    data = work / "data.om"
    t0 = time.monotonic()
    write_dataset(data, targets(args.targets), start_s, points)
    print(
        f"dataset: {args.targets * 100} series x {points} samples, {data.stat().st_size / 1e6:.0f} MB "
        f"in {time.monotonic() - t0:.0f}s",
        flush=True,
    )
    pharos = Path(sys.executable).parent / "pharos"
    secs = run(
        [str(pharos), "import", "openmetrics", str(data), "--data-dir", str(work / "pharos")], "pharos import"
    )
    print(f"pharos import: {secs:.0f}s", flush=True)
    secs = run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(data), str(work / "prometheus")],
        "promtool",
    )
    print(f"promtool create-blocks-from openmetrics: {secs:.0f}s", flush=True)
    meta.write_text(json.dumps({"end_s": end_s}))
    return end_s


def start(procs: Procs, work: Path) -> list[Server]:
    config = work / "config.yml"
    config.write_text("global:\n  scrape_interval: 15s\n")
    started = [
        start_server(procs, name, config, work / name, ["--storage.tsdb.retention.time=30d"])
        for name in ("pharos", "prometheus")
    ]
    for proc, url in started:
        wait_http(url + "/-/ready", proc, timeout=300)
    return [Server(proc.name, url, proc.pid) for proc, url in started]


def main() -> int:
    args = parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-promql-"))
    work.mkdir(parents=True, exist_ok=True)
    procs = Procs(work / "logs")
    try:
        end_s = prepare(work, args)
        servers = start(procs, work)
        rows = bench(servers, end_s, args.hours, args.repeat, args.only)
        result = {"summary": summary(rows), "rows": rows, "limit": limit_check(servers, end_s)}
    finally:
        procs.stop_all()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["summary"], indent=2))
    print(json.dumps(result["limit"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
