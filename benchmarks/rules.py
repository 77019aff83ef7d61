"""Rule evaluation side by side: pharos vs Prometheus 2.42 (`make bench-rules`).

1. `targets.py` (a separate process) serves `--targets` (25) loopback targets of `--series`
   (2,000) node_exporter-shaped series each: 50,000 series.
2. Writes one rule file: one group per target (`node-<i>`, interval `--interval`, 30 s), each
   with 80 recording and 80 alerting rules over that target's series (16 expression shapes —
   CPU, network, disk, interrupts, memory, filesystem, load, collector durations — times 5 range
   windows or thresholds): 2,000 recording and 2,000 alerting rules in all, some of the alerts
   firing.
3. Runs each server alone (2 cores here: running both at once would measure their contention),
   Prometheus first, each on an empty data directory scraping the same targets every 15 s with
   the same rule file and no Alertmanager to send to: waits until all targets are scraped and `--warmup` (2) evaluation rounds
   have passed, then records `--rounds` (5) evaluations of every group. Group evaluation time:
   `prometheus_rule_group_last_duration_seconds` (with
   `..._last_evaluation_timestamp_seconds` to tell rounds apart) from each server's /metrics
   (pharos exposes the same gauges; its `/api/v1/rules` `evaluationTime` is the same figure, but
   answering that with 10,000 alerts every second would load the server being measured). Also the server's CPU seconds per interval over
   the measured rounds (/proc, rules plus the scrapes), a figure contention does not inflate.
4. Prints per server the median group evaluation time, the sum over groups of their medians (the
   work of one round) and the pharos/prometheus ratio of those sums (floor <= 2x, target <= 1x);
   writes `benchmarks/out/rules.json`.

`--profile` runs py-spy on pharos during its measured rounds (collapsed stacks in
`benchmarks/out/`, as bench-ingest does). `--only pharos|prometheus` runs one side.

Usage: .venv/bin/python benchmarks/rules.py [--targets 25] [--interval 30] [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_harness import (
    Proc,
    Procs,
    api_get,
    cpu_seconds,
    http_get,
    py_spy,
    scrape_config_yaml,
    start_server,
    start_targets,
    wait_http,
)

HERE = Path(__file__).resolve().parent
WINDOWS = ("1m", "2m", "5m", "10m", "15m")
SCRAPE = "15s"

# (record name, expression); {I} = the instance matcher, {W} = the range window
RECORDING = (
    ("instance_mode:node_cpu_seconds:rate", "sum by (instance, mode) (rate(node_cpu_seconds_total{{{I}}}[{W}]))"),
    ("instance:node_cpu_utilisation:rate",
     '1 - avg by (instance) (rate(node_cpu_seconds_total{{{I},mode="idle"}}[{W}]))'),
    ("instance:node_network_receive_bytes:rate",
     "sum by (instance) (rate(node_network_receive_bytes_total{{{I}}}[{W}]))"),
    ("instance:node_network_transmit_bytes:rate",
     "sum by (instance) (rate(node_network_transmit_bytes_total{{{I}}}[{W}]))"),
    ("instance_device:node_disk_read_bytes:rate", "rate(node_disk_read_bytes_total{{{I}}}[{W}])"),
    ("instance_device:node_disk_written_bytes:rate", "rate(node_disk_written_bytes_total{{{I}}}[{W}])"),
    ("instance_cpu:node_interrupts:rate", "sum by (instance, cpu) (rate(node_interrupts_total{{{I}}}[{W}]))"),
    ("instance:node_interrupts:rate", "sum by (instance) (rate(node_interrupts_total{{{I}}}[{W}]))"),
    ("instance:node_load1:avg", "avg_over_time(node_load1{{{I}}}[{W}])"),
    ("instance:node_memory_available:max", "max_over_time(node_memory_MemAvailable_bytes{{{I}}}[{W}])"),
    ("instance:node_memory_free:ratio",
     "avg_over_time(node_memory_MemFree_bytes{{{I}}}[{W}]) / avg_over_time(node_memory_MemTotal_bytes{{{I}}}[{W}])"),
    ("instance_device:node_filesystem_avail:ratio",
     "min_over_time(node_filesystem_avail_bytes{{{I}}}[{W}]) / node_filesystem_size_bytes{{{I}}}"),
    ("instance:node_context_switches:increase", "increase(node_context_switches_total{{{I}}}[{W}])"),
    ("instance_device:node_network_receive_packets:rate",
     "sum by (instance, device) (rate(node_network_receive_packets_total{{{I}}}[{W}]))"),
    ("instance_device:node_filesystem_free:deriv", "deriv(node_filesystem_free_bytes{{{I}}}[{W}])"),
    ("instance_collector:node_scrape_duration:p90",
     "quantile_over_time(0.9, node_scrape_collector_duration_seconds{{{I}}}[{W}])"),
)
# (alert name, expression with {T} = a threshold index 0..4, for)
ALERTING = (
    ("NodeCPUBusy", 'rate(node_cpu_seconds_total{{{I},mode="idle"}}[{W}]) < 0.{T}', "0s"),
    ("NodeLoadHigh", "avg_over_time(node_load1{{{I}}}[{W}]) > {T}", "1m"),
    ("NodeNetworkReceiveErrors", "rate(node_network_receive_errs_total{{{I}}}[{W}]) > {T}", "1m"),
    ("NodeNetworkTransmitHigh", "sum by (instance) (rate(node_network_transmit_bytes_total{{{I}}}[{W}])) > {T}000", "0s"),
    ("NodeDiskReadBusy", "rate(node_disk_read_time_seconds_total{{{I}}}[{W}]) > 0.{T}", "1m"),
    ("NodeDiskWriteBusy", "rate(node_disk_write_time_seconds_total{{{I}}}[{W}]) > 0.{T}", "0s"),
    ("NodeInterruptsHigh", "sum by (instance, cpu) (rate(node_interrupts_total{{{I}}}[{W}])) > {T}00", "1m"),
    ("NodeMemoryLow", "node_memory_MemAvailable_bytes{{{I}}} / node_memory_MemTotal_bytes{{{I}}} < 0.{T}", "0s"),
    ("NodeFilesystemAlmostFull",
     "min_over_time(node_filesystem_avail_bytes{{{I}}}[{W}]) / node_filesystem_size_bytes{{{I}}} < 0.{T}", "1m"),
    ("NodeFilesystemFilesLow", "node_filesystem_files_free{{{I}}} / node_filesystem_files{{{I}}} < 0.{T}", "0s"),
    ("NodeContextSwitchesHigh", "increase(node_context_switches_total{{{I}}}[{W}]) > {T}", "1m"),
    ("NodeForksHigh", "rate(node_forks_total{{{I}}}[{W}]) > {T}", "0s"),
    ("NodeCollectorSlow", "max_over_time(node_scrape_collector_duration_seconds{{{I}}}[{W}]) > 0.0{T}", "1m"),
    ("NodeCollectorFailed", "node_scrape_collector_success{{{I}}} == {T}", "0s"),
    ("NodeNetworkDown", "node_network_up{{{I}}} == {T}", "1m"),
    ("NodeClockSkew", "abs(node_time_seconds{{{I}}} - timestamp(node_time_seconds{{{I}}})) > {T}", "0s"),
)


def rule_file(instances: list[str], interval: str) -> str:
    """One group per instance: 80 recording and 80 alerting rules."""
    lines = ["groups:"]
    for i, inst in enumerate(instances):
        sel = f'instance="{inst}"'
        lines += [f"  - name: node-{i}", f"    interval: {interval}", "    rules:"]
        for name, expr in RECORDING:
            for w in WINDOWS:
                lines += [f"      - record: {name}{w}", f"        expr: '{expr.format(I=sel, W=w)}'"]
        for name, expr, hold in ALERTING:
            for t, w in enumerate(WINDOWS):
                lines += [
                    f"      - alert: {name}",
                    f"        expr: '{expr.format(I=sel, W=w, T=t)}'",
                    f"        for: {hold}",
                    "        labels: {severity: warning, window: " + w + "}",
                    "        annotations:",
                    "          summary: '{{ $labels.instance }} at {{ $value | humanize }}'",
                ]
    return "\n".join(lines) + "\n"


@dataclass
class Side:
    name: str
    url: str
    pid: int
    durations: dict[str, list[float]] = field(default_factory=dict)  # group -> seconds per round
    seen: dict[str, str] = field(default_factory=dict)  # group -> last evaluation seen
    cpu_s_per_round: float = 0.0  # process CPU (rules and the 15 s scrapes) per interval


def start_side(name: str, procs: Procs, work: Path) -> Side:
    proc, url = start_server(procs, name, work / "config.yml", work / f"data-{name}")
    side = Side(name, url, proc.pid)
    wait_http(side.url + "/-/ready", proc, timeout=120)
    return side


def wait_scraped(side: Side, n_targets: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = api_get(side.url, "/api/v1/query", {"query": "count(up == 1)"})["result"]
        if res and int(float(res[0]["value"][1])) >= n_targets:
            return
        time.sleep(1)
    raise TimeoutError(f"{side.name}: targets not all up after {timeout}s")


def poll_metrics(side: Side) -> None:
    """The rule-group gauges of the server's /metrics (both expose Prometheus's names)."""
    text = http_get(side.url + "/metrics").decode()
    last: dict[str, float] = {}
    took: dict[str, float] = {}
    for line in text.splitlines():
        for metric, into in (("prometheus_rule_group_last_duration_seconds", took),
                             ("prometheus_rule_group_last_evaluation_timestamp_seconds", last)):
            if line.startswith(metric + "{"):
                group = line.split('rule_group="', 1)[1].split('"', 1)[0].rsplit(";", 1)[-1]
                into[group] = float(line.rsplit(" ", 1)[1])
    for group, secs in took.items():
        _note(side, group, str(last.get(group, 0.0)), secs)


def _note(side: Side, group: str, last: Any, secs: float) -> None:
    stamp = str(last)
    if stamp.startswith("0001-") or stamp in ("0", "0.0") or side.seen.get(group) == stamp:
        return
    side.seen[group] = stamp
    side.durations.setdefault(group, []).append(secs)


def rounds_done(side: Side, n_groups: int) -> int:
    if len(side.durations) < n_groups:
        return 0
    return min(len(v) for v in side.durations.values())


def measure(side: Side, args: argparse.Namespace, n_groups: int) -> None:
    """Skip warm-up rounds, then collect `--rounds` evaluations of every group."""
    deadline = time.monotonic() + args.interval * (args.warmup + args.rounds + 4) * 3
    while rounds_done(side, n_groups) < args.warmup:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{side.name}: groups did not get through the warm-up")
        poll_metrics(side)
        time.sleep(1)
    side.durations.clear()
    cpu0, t0 = cpu_seconds(side.pid), time.monotonic()
    while rounds_done(side, n_groups) < args.rounds:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{side.name}: {rounds_done(side, n_groups)} rounds measured")
        poll_metrics(side)
        time.sleep(1)
    rounds = (time.monotonic() - t0) / args.interval
    side.cpu_s_per_round = (cpu_seconds(side.pid) - cpu0) / max(rounds, 1e-9)


def health(side: Side) -> dict[str, int]:
    """Rules by health, and alerts by state, from /api/v1/rules."""
    out: dict[str, int] = {}
    for g in api_get(side.url, "/api/v1/rules")["groups"]:
        for r in g["rules"]:
            key = f"health_{r['health']}"
            out[key] = out.get(key, 0) + 1
            for a in r.get("alerts", []):
                out[f"alerts_{a['state']}"] = out.get(f"alerts_{a['state']}", 0) + 1
    return out


def summarise(side: Side) -> dict[str, Any]:
    medians = [statistics.median(v) for v in side.durations.values()]
    return {
        "groups": len(medians),
        "median_group_s": round(statistics.median(medians), 4),
        "max_group_s": round(max(max(v) for v in side.durations.values()), 4),
        "sum_of_group_medians_s": round(sum(medians), 3),
        "cpu_s_per_interval": round(side.cpu_s_per_round, 2),
        **health(side),
    }


def stop_profile(proc: Proc) -> None:
    """SIGINT makes py-spy write its output."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGINT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(timeout=60)


def run_side(name: str, work: Path, args: argparse.Namespace, n_groups: int) -> dict[str, Any]:
    procs = Procs(work / f"logs-{name}")
    try:
        side = start_side(name, procs, work)
        wait_scraped(side, args.targets)
        print(f"{name}: {args.targets} targets up, evaluating", flush=True)
        spy = None
        if args.profile and name == "pharos":
            out = args.out.parent / f"pharos-rules-profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
            spy = py_spy(procs, side.pid, out, 50)
        measure(side, args, n_groups)
        if spy is not None:
            stop_profile(spy)
        result = summarise(side)
        print(f"{name}: {json.dumps(result)}", flush=True)
        return result
    finally:
        procs.stop_all()


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", type=int, default=25)
    p.add_argument("--series", type=int, default=2000)
    p.add_argument("--interval", type=int, default=30, help="group evaluation interval, seconds")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only", choices=("pharos", "prometheus"))
    p.add_argument("--profile", action="store_true")
    p.add_argument("--out", type=Path, default=HERE / "out" / "rules.json")
    return p.parse_args()


def main() -> int:
    args = parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        work = Path(tmp)
        shared = Procs(work / "logs")
        try:
            ports = start_targets(shared, work, args.targets, args.series)
            instances = [f"127.0.0.1:{p}" for p in ports]
            (work / "rules.yml").write_text(rule_file(instances, f"{args.interval}s"))
            # no Alertmanager on either side (pharos would otherwise send to its built-in one)
            extra = f"rule_files: ['{work / 'rules.yml'}']\nalerting:\n  alertmanagers: []\n"
            (work / "config.yml").write_text(scrape_config_yaml({"node": instances}, SCRAPE, extra=extra))
            print(f"{args.targets} targets x {args.series} series, {len(RECORDING) * 5 * args.targets} recording "
                  f"+ {len(ALERTING) * 5 * args.targets} alerting rules in {args.targets} groups", flush=True)
            sides = [s for s in ("prometheus", "pharos") if args.only in (None, s)]
            results: dict[str, Any] = {s: run_side(s, work, args, len(instances)) for s in sides}
        finally:
            shared.stop_all()
    if len(results) == 2:
        ratio = results["pharos"]["sum_of_group_medians_s"] / results["prometheus"]["sum_of_group_medians_s"]
        results["ratio_pharos_over_prometheus"] = round(ratio, 2)
        verdict = "target met" if ratio <= 1 else "floor met" if ratio <= 2 else "FLOOR FAILED"
        print(f"group evaluation time (sum of per-group medians): pharos/prometheus = {ratio:.2f}x ({verdict})")
    results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
