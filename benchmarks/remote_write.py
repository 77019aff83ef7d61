"""Remote-write ingest benchmark: pharos' `/api/v1/write` vs Prometheus 2.42's receiver.

    .venv/bin/python benchmarks/remote_write.py                 # 200 x 500 series, 10 rounds
    .venv/bin/python benchmarks/remote_write.py --groups 40     # a smaller run
    .venv/bin/python benchmarks/remote_write.py --profile       # py-spy profile of pharos

Prebuilds snappy-compressed `prometheus.WriteRequest` bodies once: `--groups` groups of
`--series` series (500) with `--samples` samples (10) per series per request, for `--rounds`
rounds (each round moves every series `--samples` scrape intervals on). A client in a separate
process sends them on `--conns` keep-alive connections to 127.0.0.1 (each connection owns whole
groups, so every series arrives in time order), first to one server then to the other, each
started fresh. Phase "new series" is round 0 (every series is created), phase "steady" the
other rounds. Per server and phase: samples appended (the server's own counter), server CPU
seconds (utime+stime of the process tree from /proc) and samples/s per CPU core; then the
pharos/prometheus ratio against issue 7's floor (>= 0.5x, target >= 1x; exit 1 below the floor).
"""

from __future__ import annotations

import argparse
import http.client
import json
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cramjam
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_harness import (
    Proc,
    Procs,
    cpu_seconds,
    hwm_bytes,
    py_spy,
    start_server,
    wait_http,
    work_dir,
    write_report,
)
from server_figures import figures

from pharos.agent.ship import length_delimited, varint

HERE = Path(__file__).resolve().parent
FLOOR, TARGET = 0.5, 1.0
STEP_MS = 15_000
HEADERS = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "User-Agent": "pharos-bench-remote-write",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
CONFIG = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\n"
METRICS = ["node_cpu_seconds_total", "node_network_receive_bytes_total", "node_disk_io_time_seconds_total",
           "http_requests_total", "node_memory_Active_bytes"]

# ------------------------------------------------------------------------------ payloads


def series_labels(group: int, i: int) -> bytes:
    """The encoded Label messages (sorted by name) of series `i` of `group`."""
    pairs = sorted({
        "__name__": METRICS[i % len(METRICS)],
        "instance": f"host-{group:04d}.example.internal:9100",
        "job": "node",
        "cpu": str(i // len(METRICS) % 16),
        "mode": f"mode-{i // (len(METRICS) * 16)}",
        "cluster": "bench",
    }.items())
    return b"".join(length_delimited(0x0A, length_delimited(0x0A, k.encode()) + length_delimited(0x12, v.encode())) for k, v in pairs)


def samples_block(ts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(series, samples) Sample messages framed as TimeSeries field 2, 18 bytes each: timestamps
    in ms since the epoch always take a 6-byte varint (2**35 <= ts < 2**42)."""
    if ts.min() < 2**35 or ts.max() >= 2**42:
        raise ValueError("timestamps out of the 6-byte varint range")
    n, k = values.shape
    out = np.zeros((n, k, 18), dtype=np.uint8)
    out[:, :, 0], out[:, :, 1], out[:, :, 2] = 0x12, 16, 0x09
    out[:, :, 3:11] = values.astype("<f8").view(np.uint8).reshape(n, k, 8)
    out[:, :, 11] = 0x10
    t = ts.astype(np.uint64)
    for j in range(6):
        byte = (t >> np.uint64(7 * j)) & np.uint64(0x7F)
        out[:, :, 12 + j] = (byte | np.uint64(0x80 if j < 5 else 0)).astype(np.uint8)[None, :]
    return out.reshape(n, k * 18)


def build_request(labels: list[bytes], block: np.ndarray) -> bytes:
    parts = []
    for lab, row in zip(labels, block, strict=True):
        inner = lab + row.tobytes()
        parts.append(b"\x0a" + varint(len(inner)) + inner)
    return bytes(cramjam.snappy.compress_raw(b"".join(parts)))


def build_payloads(path: Path, args: argparse.Namespace) -> int:
    """Write every body (round-major, then group) to `path`; returns the number of samples."""
    rng = np.random.default_rng(1)
    t0 = (int(time.time() * 1000) - args.rounds * args.samples * STEP_MS - 60_000) // STEP_MS * STEP_MS
    labels = [[series_labels(g, i) for i in range(args.series)] for g in range(args.groups)]
    counters = rng.integers(0, 10**6, size=(args.groups, args.series)).astype(np.float64)
    with path.open("wb") as fh:
        for r in range(args.rounds):
            ts = t0 + (r * args.samples + np.arange(args.samples)) * STEP_MS
            for g in range(args.groups):
                inc = rng.integers(0, 1000, size=(args.series, args.samples)).astype(np.float64)
                vals = counters[g][:, None] + np.cumsum(inc, axis=1)
                vals[1::2] = np.round(rng.random((args.series // 2, args.samples)) * 100, 2)  # gauges
                counters[g] = vals[:, -1]
                body = build_request(labels[g], samples_block(ts, vals))
                fh.write(struct.pack("<I", len(body)) + body)
    return args.groups * args.series * args.samples * args.rounds


def load_payloads(path: Path) -> list[bytes]:
    data, out, i = path.read_bytes(), [], 0
    while i < len(data):
        (n,) = struct.unpack_from("<I", data, i)
        out.append(data[i + 4 : i + 4 + n])
        i += 4 + n
    return out


# -------------------------------------------------------------------------------- client


def client_main(args: argparse.Namespace) -> None:
    """Send rounds [first, last) of the payload file; one JSON line of figures on stdout."""
    bodies = load_payloads(args.payloads)
    first, last = map(int, args.rounds_range.split(":"))
    host, _, port = args.client.removeprefix("http://").partition(":")
    lock, errors, sent = threading.Lock(), [], [0]

    def worker(conn_no: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        for r in range(first, last):
            for g in range(conn_no, args.groups, args.conns):
                conn.request("POST", "/api/v1/write", body=bodies[r * args.groups + g], headers=HEADERS)
                resp = conn.getresponse()
                text = resp.read()
                with lock:
                    sent[0] += 1
                    if resp.status >= 300:
                        errors.append(f"{resp.status} {text[:200]!r}")
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(c,)) for c in range(args.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"requests": sent[0], "errors": errors[:5], "n_errors": len(errors),
                      "wall_s": time.monotonic() - t0}))


# --------------------------------------------------------------------------- the servers


@dataclass
class Phase:
    name: str
    samples: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    client: dict[str, Any] = field(default_factory=dict)

    def per_core(self) -> float:
        return self.samples / self.cpu_s if self.cpu_s else float("nan")


def launch(procs: Procs, tmp: Path, name: str) -> tuple[Proc, str, Path]:
    config = tmp / f"{name}.yml"
    config.write_text(CONFIG)
    data = tmp / f"{name}-data"
    proc, url = start_server(procs, name, config, data, ["--web.enable-remote-write-receiver"])
    wait_http(url + "/-/ready", proc, timeout=90)
    return proc, url, data


def appended(name: str, url: str, data: Path) -> int:
    return figures(name, url, data).samples_appended


def run_phase(procs: Procs, server: Proc, name: str, url: str, data: Path, phase: Phase,
              rounds: str, args: argparse.Namespace) -> None:
    time.sleep(args.settle)
    s0, c0, t0 = appended(name, url, data), cpu_seconds(server.pid), time.monotonic()
    argv = [sys.executable, str(Path(__file__).resolve()), "--client", url, "--payloads", str(args.payloads),
            "--rounds-range", rounds, "--groups", str(args.groups), "--conns", str(args.conns)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"client failed:\n{done.stderr[-2000:]}")
    phase.client = json.loads(done.stdout.strip().splitlines()[-1])
    phase.wall_s = time.monotonic() - t0
    time.sleep(args.settle)  # work a server defers after answering (appends it queued) counts too
    phase.cpu_s = cpu_seconds(server.pid) - c0
    phase.samples = appended(name, url, data) - s0
    if phase.client["n_errors"]:
        print(f"  {name}/{phase.name}: {phase.client['n_errors']} failed requests, e.g. {phase.client['errors'][0]}")


def run_server(procs: Procs, tmp: Path, name: str, args: argparse.Namespace) -> dict[str, Any]:
    server, url, data = launch(procs, tmp, name)
    phases = [Phase("new series"), Phase("steady")]
    prof = None
    if args.profile and name == "pharos":
        profile = args.out / f"remote-write-profile-{time.strftime('%Y%m%d-%H%M%S')}.txt"
        prof = py_spy(procs, server.pid, profile, 100, "--subprocesses")
    run_phase(procs, server, name, url, data, phases[0], "0:1", args)
    run_phase(procs, server, name, url, data, phases[1], f"1:{args.rounds}", args)
    peak = hwm_bytes(server.pid)
    server.stop()
    if prof is not None:
        prof.popen.wait(timeout=60)
    out: dict[str, Any] = {"peak_rss_bytes": peak}
    for ph in phases:
        out[ph.name] = {"samples": ph.samples, "cpu_s": ph.cpu_s, "wall_s": ph.wall_s,
                        "samples_per_s_per_core": ph.per_core(), "client": ph.client}
        print(f"  {name:<10} {ph.name:<11} {ph.samples:>11,} samples  {ph.cpu_s:6.2f} CPU s  "
              f"{ph.per_core():>11,.0f} samples/s per core  ({ph.wall_s:.1f}s wall)")
    return out


# -------------------------------------------------------------------------------- report


def ratios(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if {"pharos", "prometheus"} - results.keys():
        return out
    for phase in ("new series", "steady", "all"):
        p, q = (results[n][phase]["samples_per_s_per_core"] for n in ("pharos", "prometheus"))
        r = p / q if q else float("nan")
        out.append({"phase": phase, "ratio": r, "floor_ok": r >= FLOOR, "target_ok": r >= TARGET})
    return out


def add_totals(res: dict[str, Any]) -> None:
    samples = res["new series"]["samples"] + res["steady"]["samples"]
    cpu = res["new series"]["cpu_s"] + res["steady"]["cpu_s"]
    res["all"] = {"samples": samples, "cpu_s": cpu, "samples_per_s_per_core": samples / cpu if cpu else 0.0}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--groups", type=int, default=200, help="requests per round (distinct series groups)")
    p.add_argument("--series", type=int, default=500, help="series per request")
    p.add_argument("--samples", type=int, default=10, help="samples per series per request")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--conns", type=int, default=4, help="client connections")
    p.add_argument("--settle", type=float, default=2.0, help="seconds before and after each phase")
    p.add_argument("--only", choices=["pharos", "prometheus"])
    p.add_argument("--profile", action="store_true", help="py-spy record pharos")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--out", type=Path, default=HERE / "out")
    p.add_argument("--client", help=argparse.SUPPRESS)
    p.add_argument("--payloads", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--rounds-range", help=argparse.SUPPRESS)
    return p.parse_args()


def main() -> int:
    args = parse_args()
    if args.client:
        client_main(args)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    with work_dir("pharos-bench-rw-", args.keep) as (tmp, procs):
        args.payloads = tmp / "payloads.bin"
        t0 = time.monotonic()
        total = build_payloads(args.payloads, args)
        print(f"{args.groups * args.rounds:,} requests, {args.groups * args.series:,} series, {total:,} samples, "
              f"{args.payloads.stat().st_size / 1e6:,.0f} MB compressed (built in {time.monotonic() - t0:.0f}s)")
        results: dict[str, Any] = {}
        for name in ("pharos", "prometheus"):
            if args.only in (None, name):
                results[name] = run_server(procs, tmp, name, args)
                add_totals(results[name])
        checks = ratios(results)
        for c in checks:
            print(f"pharos/prometheus samples/s per core, {c['phase']:<11}: {c['ratio']:.2f}x  "
                  f"floor >= {FLOOR}x {'PASS' if c['floor_ok'] else 'FAIL'}, "
                  f"target >= {TARGET}x {'met' if c['target_ok'] else 'missed'}")
        report = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "total_samples": total,
                  "args": {k: str(v) for k, v in vars(args).items()}, "results": results, "checks": checks}
        write_report(args.out, "remote-write", report)
        return 0 if all(c["floor_ok"] for c in checks if c["phase"] == "all") else 1


if __name__ == "__main__":
    sys.exit(main())
