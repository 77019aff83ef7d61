"""kill -9 pharos while it ingests many targets; after a restart on the same data directory
every sample it had exported before the kill is still there, bit for bit.
"""

from __future__ import annotations

import json
import struct
import sys
import time
from pathlib import Path
from typing import Any

from e2e_harness import (
    Proc,
    Procs,
    free_port,
    http_get,
    iter_json_lines,
    parse_text_metrics,
    pharos_argv,
    scrape_config_yaml,
    wait_http,
)

REPO = Path(__file__).resolve().parents[2]
TARGETS, SERIES = 20, 500
EVERYTHING = '{__name__=~".+"}'

Key = tuple[tuple[str, str], ...]
Samples = dict[Key, dict[int, bytes]]


def start_targets(procs: Procs, tmp: Path) -> list[int]:
    ports_file = tmp / "ports.json"
    argv = [
        sys.executable,
        str(REPO / "benchmarks" / "targets.py"),
        "--targets",
        str(TARGETS),
        "--series",
        str(SERIES),
        "--ports-file",
        str(ports_file),
    ]
    proc = procs.start("targets", argv)
    deadline = time.monotonic() + 30
    while not ports_file.exists():
        assert proc.alive() and time.monotonic() < deadline, proc.log_tail()
        time.sleep(0.1)
    return list(json.loads(ports_file.read_text()))


def start_pharos(procs: Procs, tmp: Path, port: int, name: str) -> Proc:
    proc = procs.start(name, pharos_argv(tmp / "pharos.yml", tmp / "data", port))
    wait_http(f"http://127.0.0.1:{port}/-/ready", proc, timeout=60)
    return proc


def value_bits(v: Any) -> bytes:
    """The exact float64 bits of an exported number; anything else (a "NaN" string, null) as
    its JSON text, since JSON cannot carry NaN payloads."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        return struct.pack("<d", float(v))
    return json.dumps(v).encode()


def export(port: int, start: float, end: float) -> Samples:
    params = {"match[]": EVERYTHING, "start": f"{start:.3f}", "end": f"{end:.3f}"}
    body = http_get(f"http://127.0.0.1:{port}/api/v1/export", params, timeout=60)
    out: Samples = {}
    for row in iter_json_lines(body):
        key = tuple(sorted(row["metric"].items()))
        pairs = zip(row["timestamps"], row["values"], strict=True)
        out.setdefault(key, {}).update({int(t): value_bits(v) for t, v in pairs})
    return out


def count(samples: Samples) -> int:
    return sum(len(s) for s in samples.values())


def wait_ingesting(port: int, since: float) -> None:
    """Until every target was scraped a few times (bounded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        samples = export(port, since, time.time() + 1)
        ups = [s for k, s in samples.items() if k[0] == ("__name__", "up")]
        if len(ups) == TARGETS and min(len(s) for s in ups) >= 3:
            return
        time.sleep(0.5)
    raise AssertionError("pharos did not scrape every target three times within 30s")


def missing_after(before: Samples, after: Samples) -> list[str]:
    problems = []
    for key, samples in before.items():
        got = after.get(key, {})
        for ts, bits in samples.items():
            if got.get(ts) != bits:
                problems.append(f"{dict(key)} @{ts}: before {bits!r}, after {got.get(ts)!r}")
    return problems


def blocks_on_disk(port: int) -> float:
    metrics = parse_text_metrics(http_get(f"http://127.0.0.1:{port}/metrics").decode())
    return metrics.get("pharos_tsdb_blocks_loaded", 0.0)


def wait_first_flush(port: int, pharos: Proc) -> None:
    """Until the head was flushed to Parquet parts (pharos' maintenance runs once a minute)."""
    deadline = time.monotonic() + 150
    while blocks_on_disk(port) == 0:
        assert pharos.alive() and time.monotonic() < deadline, "no head flush:\n" + pharos.log_tail()
        time.sleep(1.0)
    time.sleep(2.0)  # and ingest on top of the flushed head


def kill_restart_compare(procs: Procs, tmp: Path, storage: str, wait_more: bool) -> None:
    ports = start_targets(procs, tmp)
    config = scrape_config_yaml({"node": [f"127.0.0.1:{p}" for p in ports]}, "1s")
    (tmp / "pharos.yml").write_text(config + storage)
    port, since = free_port(), time.time() - 60
    pharos = start_pharos(procs, tmp, port, "pharos")
    wait_ingesting(port, since)
    if wait_more:
        wait_first_flush(port, pharos)

    before: Samples = {}
    for _ in range(3):  # reads while ingesting; the last one is what pharos said it had
        before = export(port, since, time.time() + 60)
    pharos.kill9()
    assert len(before) >= TARGETS * SERIES, len(before)

    start_pharos(procs, tmp, port, "pharos-restarted")
    after = export(port, since, time.time() + 60)
    problems = missing_after(before, after)
    print(f"before kill: {len(before)} series, {count(before)} samples; after: {count(after)}")
    assert not problems, f"{len(problems)} of {count(before)} samples lost or changed:\n" + "\n".join(
        problems[:20]
    )


def test_kill9_loses_nothing_exported(procs: Procs, tmp_path: Path) -> None:
    """Everything still in the head and the WAL."""
    kill_restart_compare(procs, tmp_path, "", wait_more=False)


def test_kill9_after_head_flush_loses_nothing(procs: Procs, tmp_path: Path) -> None:
    """Samples in flushed Parquet parts, compacted blocks, the truncated WAL and the head.
    Slow (about 70 s): pharos flushes from its once-a-minute maintenance."""
    storage = "storage:\n  block_duration: 10s\n  out_of_order_time_window: 2s\n"
    kill_restart_compare(procs, tmp_path, storage, wait_more=True)
