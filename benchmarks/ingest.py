"""Ingestion benchmark: pharos vs Prometheus 2.42, side by side, on the same loopback targets.

    .venv/bin/python benchmarks/ingest.py            # 100 targets x 2,000 series, 5s, 150s
    .venv/bin/python benchmarks/ingest.py --quick    # 30s smoke run

Both servers scrape the same targets (served by benchmarks/targets.py in a separate process) at
the same time. For each we report samples/s ingested, CPU seconds per million samples, peak
RSS, RSS per active series and disk bytes per sample once a block is written, read from the
server's own figures and from /proc; then pharos/prometheus ratios against the floors of
issue 2. Exit status 1 when a floor fails. Results also go to benchmarks/out/ as JSON.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_harness import (
    Proc,
    Procs,
    cpu_seconds,
    hwm_bytes,
    py_spy,
    rss_bytes,
    scrape_config_yaml,
    start_server,
    start_targets,
    wait_http,
    work_dir,
    write_report,
)
from server_figures import Figures, block_figures, figures

HERE = Path(__file__).resolve().parent
SYNTHETIC = 5  # up, scrape_duration_seconds, scrape_samples_scraped, ..._post_metric_relabeling, series_added
# (name, pharos/prometheus ratio floor, target, lower is better)
CHECKS = [
    ("cpu_s_per_million_samples", 2.0, 1.0),
    ("disk_bytes_per_sample", 1.0, 0.5),
    ("rss_bytes_per_series", 1.5, 1.0),
]
# Prometheus runs without an out-of-order window; pharos gets one scrape interval (its default
# of 10m would keep each block open, uncompacted, for 10 minutes after its end).
PHAROS_STORAGE = "storage:\n  block_duration: {block}\n  out_of_order_time_window: {ooo}\n"
console = Console()


@dataclass
class Side:
    """One server under test and what we measured about it."""

    name: str
    proc: Proc
    url: str
    data_dir: Path
    start: Figures | None = None
    end: Figures | None = None
    t_start: float = 0.0
    t_end: float = 0.0
    cpu_start: float = 0.0
    cpu_end: float = 0.0
    peak_rss: int = 0
    window_rss: list[int] = field(default_factory=list)  # RSS polled in the measured window
    t_launch: float = field(default_factory=time.time)
    rss_timeline: list[tuple[float, int, int]] = field(default_factory=list)  # (s since launch, RSS, HWM)
    result: dict[str, Any] = field(default_factory=dict)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", type=int, default=100)
    p.add_argument("--series", type=int, default=2000, help="series per target")
    p.add_argument("--interval", default="5s")
    p.add_argument("--duration", type=float, default=150.0, help="seconds of side-by-side scraping")
    p.add_argument("--quick", action="store_true", help="30s smoke run with 10s blocks")
    p.add_argument("--block", default="1m", help="block duration for both TSDBs")
    p.add_argument("--block-wait", type=float, default=240.0, help="max seconds to wait for a block")
    p.add_argument("--only", choices=["pharos", "prometheus"], help="run a single server")
    p.add_argument("--profile", action="store_true", help="py-spy record pharos during the run")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--out", type=Path, default=HERE / "out")
    args = p.parse_args()
    if args.quick:
        args.duration, args.block = 30.0, "10s"
    return args


def start_servers(procs: Procs, tmp: Path, ports: list[int], args: argparse.Namespace) -> list[Side]:
    config = scrape_config_yaml({"node": [f"127.0.0.1:{p}" for p in ports]}, args.interval)
    (tmp / "prometheus.yml").write_text(config)
    (tmp / "pharos.yml").write_text(config + PHAROS_STORAGE.format(block=args.block, ooo=args.interval))
    sides = []
    for name, files in (("prometheus", "prom"), ("pharos", "pharos")):
        if args.only in (None, name):
            data = tmp / f"{files}-data"
            proc, url = start_server(procs, name, tmp / f"{name}.yml", data, block=args.block)
            sides.append(Side(name, proc, url, data))
    for side in sides:
        wait_http(side.url + "/-/ready", side.proc, timeout=60)
    return sides


def read_figures(side: Side) -> Figures:
    return figures(side.name, side.url, side.data_dir)


def wait_all_series(sides: list[Side], expected: int, timeout: float) -> None:
    """Start measuring once each server holds (nearly) all the expected series."""

    def done() -> bool:
        return all(read_figures(s).head_series >= 0.99 * expected for s in sides)

    poll(sides, done, lambda: "waiting for every series to be scraped once", timeout)
    for side in sides:
        series = read_figures(side).head_series
        if series < 0.99 * expected:
            console.print(f"[yellow]{side.name}: only {series} of {expected} series; measuring anyway[/]")


def mark(side: Side, which: str) -> None:
    figs, cpu, now = read_figures(side), cpu_seconds(side.proc.pid), time.time()
    if which == "start":
        side.start, side.cpu_start, side.t_start = figs, cpu, now
    else:
        side.end, side.cpu_end, side.t_end = figs, cpu, now


def poll(sides: list[Side], done: Callable[[], bool], label: Callable[[], str], timeout: float) -> None:
    """Poll RSS (and liveness) once a second until `done()` or `timeout` seconds passed."""
    deadline = time.monotonic() + timeout
    with console.status("") as status:
        while not done() and time.monotonic() < deadline:
            for side in sides:
                if not side.proc.alive():
                    raise RuntimeError(f"{side.name} died:\n{side.proc.log_tail()}")
                rss = rss_bytes(side.proc.pid)
                side.peak_rss = max(side.peak_rss, rss)
                if side.t_start:
                    side.window_rss.append(rss)
                t = round(time.time() - side.t_launch, 1)
                side.rss_timeline.append((t, rss, hwm_bytes(side.proc.pid)))
            status.update(f"{label()} ({deadline - time.monotonic():.0f}s left)")
            time.sleep(1.0)


def has_blocks(sides: list[Side]) -> bool:
    return all(block_figures(s.name, s.data_dir).samples for s in sides)


def measure(sides: list[Side], seconds: float, block_wait: float) -> None:
    """Side-by-side scraping for `seconds`, then on until both wrote a block: the CPU and
    samples of both phases count, so each server's block writing is inside its window."""
    for side in sides:
        mark(side, "start")
    poll(sides, lambda: False, lambda: "side by side scraping", seconds)
    poll(sides, lambda: has_blocks(sides), lambda: "waiting for both to write a block", block_wait)
    for side in sides:
        mark(side, "end")
        side.peak_rss = max(side.peak_rss, hwm_bytes(side.proc.pid))


def summarise(side: Side, expected_series: int) -> dict[str, Any]:
    assert side.start and side.end
    samples = side.end.samples_appended - side.start.samples_appended
    if samples <= 0:
        raise RuntimeError(f"{side.name}: no samples appended according to its /metrics")
    secs = side.t_end - side.t_start
    cpu = side.cpu_end - side.cpu_start
    blocks = block_figures(side.name, side.data_dir)
    disk = blocks.block_bytes + blocks.catalog_bytes
    series = side.end.head_series
    median = int(statistics.median(side.window_rss)) if side.window_rss else 0
    return {
        "window_s": round(secs, 1),
        "samples_appended": samples,
        "samples_per_s": samples / secs if secs else 0.0,
        "cpu_s": cpu,
        "cpu_s_per_million_samples": cpu / samples * 1e6 if samples else float("inf"),
        "peak_rss_bytes": side.peak_rss,
        "head_series": series,
        "expected_series": expected_series,
        "rss_bytes_per_series": side.peak_rss / series if series else float("inf"),
        "median_rss_bytes": median,
        "median_rss_bytes_per_series": median / series if series else float("inf"),
        "block_bytes": blocks.block_bytes,
        "catalog_bytes": blocks.catalog_bytes,
        "block_samples": blocks.samples,
        "disk_bytes_per_sample": disk / blocks.samples if blocks.samples else float("nan"),
    }


def ratios(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if {"pharos", "prometheus"} - results.keys():
        return out
    for key, floor, target in CHECKS:
        p, q = results["pharos"][key], results["prometheus"][key]
        ratio = p / q if q else float("inf")
        out.append(
            {
                "figure": key,
                "ratio": ratio,
                "floor": floor,
                "target": target,
                "floor_ok": ratio <= floor,
                "target_ok": ratio <= target,
            }
        )
    return out


def fmt(v: Any, key: str) -> str:
    if isinstance(v, float) and v != v:  # NaN
        return "n/a"
    if ("rss" in key and "per" not in key) or key in ("block_bytes", "catalog_bytes"):
        return f"{v / 2**20:,.1f} MiB"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}"


def print_table(results: dict[str, dict[str, Any]], checks: list[dict[str, Any]]) -> None:
    table = Table(title="ingest: pharos vs prometheus 2.42")
    names = list(results)
    table.add_column("figure")
    for name in names:
        table.add_column(name, justify="right")
    if len(names) == 2:
        table.add_column("pharos/prometheus", justify="right")
    for key in next(iter(results.values())):
        row = [key] + [fmt(results[n][key], key) for n in names]
        if len(names) == 2:
            p, q = results["pharos"][key], results["prometheus"][key]
            row.append(f"{p / q:.2f}x" if isinstance(q, (int, float)) and q else "")
        table.add_row(*row)
    console.print(table)
    if checks:
        verdicts = Table(title="floors and targets (ratio pharos/prometheus, lower is better)")
        for col in ("figure", "ratio", "floor", "verdict", "target", "target met"):
            verdicts.add_column(col)
        for c in checks:
            verdicts.add_row(
                c["figure"],
                f"{c['ratio']:.2f}x",
                f"<= {c['floor']}x",
                "[green]PASS[/]" if c["floor_ok"] else "[red]FAIL[/]",
                f"<= {c['target']}x",
                "yes" if c["target_ok"] else "no",
            )
        console.print(verdicts)


def main() -> int:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    expected = args.targets * (args.series + SYNTHETIC)
    with work_dir("pharos-bench-", args.keep) as (tmp, procs):
        console.print(
            f"work dir {tmp}; {args.targets} targets x {args.series} series, "
            f"every {args.interval}, {args.duration:.0f}s, blocks of {args.block}"
        )
        ports = start_targets(procs, tmp, args.targets, args.series)
        sides = start_servers(procs, tmp, ports, args)
        started = time.monotonic()
        wait_all_series(sides, expected, timeout=60)
        window = max(10.0, args.duration - (time.monotonic() - started))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        pharos_side = [s for s in sides if s.name == "pharos"]
        if args.profile and pharos_side:
            out = args.out / f"pharos-profile-{stamp}.txt"
            py_spy(procs, pharos_side[0].proc.pid, out, 50, "--duration", str(int(window)), "--subprocesses")
        measure(sides, window, args.block_wait)
        results = {s.name: summarise(s, expected) for s in sides}
        checks = ratios(results)
        print_table(results, checks)
        report = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "args": vars(args) | {"out": str(args.out)},
            "results": results,
            "checks": checks,
            "figures": {s.name: [asdict(s.start), asdict(s.end)] for s in sides if s.start and s.end},
            "rss_timeline": {s.name: s.rss_timeline for s in sides},
        }
        write_report(args.out, "ingest", report)
        return 0 if all(c["floor_ok"] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
