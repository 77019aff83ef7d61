"""Log ingest, storage and query benchmark of a real `pharos server` on 127.0.0.1 (`make bench-logs`).

1. Generates `--size` MB (default 2048) of container logs (benchmarks/logsgen.py: JSON app logs,
   nginx access lines, Java stack traces; 60 streams over 24 h) into raw files under a temporary
   directory in /tmp, and the same lines as ~1 MiB protobuf+snappy push bodies (promtail's format).
2. Starts `pharos server`, pushes every body through `/loki/api/v1/push` from `--clients`
   threads; ingest MB/s and lines/s per CPU core = raw bytes (lines) / CPU seconds the server
   process used (utime + stime), next to wall-clock MB/s.
3. Stops the server (the head is flushed into plain blocks), restarts it and waits until its
   maintenance rounds have encoded and merged every block (see pharos.storage.logs.rewrite), with
   the server CPU that took; reports stored bytes (everything under the logs directory: blocks,
   stream catalogs, what is left of the WAL) / raw bytes, next to `zstd -19` of the raw files.
4. Times (best of `--repeat`) a rare-needle query `{job="bench"} |= NEEDLE` next to
   `grep -F -c NEEDLE` over the raw files, and
   `sum by (level) (count_over_time({format="json"} | json [5m]))` next to a jq | awk pipeline,
   checking the answers agree. Removes the temporary directory unless `--keep`.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cramjam
import orjson
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).parent))
from logsgen import NEEDLE, NS, Stream, lines_for, streams

from pharos.logs.proto import PushRequest

BIN = Path(sys.executable).parent
SPAN_NS = 24 * 3600 * NS
STEP_S = 300
METRIC_QUERY = 'sum by (level) (count_over_time({format="json"} | json [5m]))'
NEEDLE_QUERY = '{job="bench"} |= "' + NEEDLE + '"'
CONFIG = """logs:
  limits:
    ingestion_rate_mb: 1000000
    ingestion_burst_size_mb: 1000000
    per_stream_rate_limit: 1TB
    per_stream_rate_limit_burst: 1TB
    max_entries_limit_per_query: 100000
"""


def _labels(s: Stream) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(s.labels.items())) + "}"


def generate(size_mb: int, raw: Path, start_ns: int, clients: int) -> tuple[list[list[bytes]], int, int]:
    """Raw files per kind and push bodies per client (each client owns a set of streams, as one
    promtail per node does, so a stream's pushes arrive in order); returns (bodies, bytes, lines)."""
    ss = streams()
    wsum = sum(s.weight for s in ss)
    gens = [lines_for(s, i, start_ns, SPAN_NS, int(size_mb * 1e6 * s.weight / wsum / 200), 400_000)
            for i, s in enumerate(ss)]
    files = {k: open(raw / f"{k}.log", "w") for k in ("json", "nginx", "java")}  # noqa: SIM115
    bodies: list[list[bytes]] = [[] for _ in range(clients)]
    total = lines = 0
    live = [list(range(c, len(ss), clients)) for c in range(clients)]
    while any(live):
        for c in range(clients):
            if live[c]:
                size, n = _body(ss, gens, live[c], files, bodies[c])
                total, lines = total + size, lines + n
    for f in files.values():
        f.close()
    return bodies, total, lines


def _body(ss: list[Stream], gens: list[Any], live: list[int], files: dict[str, Any], out: list[bytes]
          ) -> tuple[int, int]:
    """One ~1 MiB push of the `live` streams (25 lines each per round)."""
    req = PushRequest()
    size = lines = 0
    while live and size < 1 << 20:
        for i in list(live):
            st = req.streams.add(labels=_labels(ss[i]))  # type: ignore[attr-defined]
            for _ in range(25):
                try:
                    ts, line = next(gens[i])
                except StopIteration:
                    live.remove(i)
                    break
                e = st.entries.add(line=line)
                e.timestamp.seconds, e.timestamp.nanos = divmod(ts, NS)
                files[ss[i].kind].write(line + "\n")
                size += len(line) + 1
                lines += 1
    out.append(bytes(cramjam.snappy.compress_raw(req.SerializeToString())))
    return size, lines


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A `pharos server` subprocess (every one started is stopped at exit)."""

    started: list[Server] = []

    def __init__(self, data: Path, config: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([str(BIN / "pharos"), "server", "--data-dir", str(data), "--config", str(config),
                                      "--listen", f"127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL)
        self.ps = psutil.Process(self.proc.pid)
        Server.started.append(self)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.get("/loki/api/v1/labels")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("pharos server did not start")

    def cpu(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def get(self, path: str, params: dict[str, str] | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3600)
        try:
            conn.request("GET", path + ("?" + urllib.parse.urlencode(params) if params else ""))
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=600)


def push_all(port: int, bodies: list[list[bytes]]) -> None:
    """Push every client's bodies in order, the clients concurrently (keep-alive connections)."""
    errors: list[str] = []

    def worker(part: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for body in part:
            conn.request("POST", "/loki/api/v1/push", body, {"Content-Type": "application/x-protobuf"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 204:
                errors.append(f"{resp.status} {data[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(part,)) for part in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} pushes failed, first: {errors[0]}")


def best_of(n: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Fastest of n runs (seconds) and the last result."""
    best, result = float("inf"), None
    for _ in range(n):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def sh(cmd: str) -> str:
    return subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, check=True,
                          env={**os.environ, "LC_ALL": "C"}).stdout


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def wait_compacted(logs: Path, settle_s: float = 75, timeout_s: float = 3600) -> int:
    """Wait until every block is encoded and the set of blocks has not changed for `settle_s`
    (a maintenance round runs every minute); returns the number of blocks."""
    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        files = sorted(str(p) for p in logs.rglob("*.parquet") if not p.name.startswith(".tmp-"))
        if files != last:
            last, since = files, time.monotonic()
        elif time.monotonic() - since >= settle_s and all(_encoded(Path(f)) for f in files):
            return len(files)
        time.sleep(5)
    raise RuntimeError("compaction did not settle")


def _encoded(path: Path) -> bool:
    try:
        return "tpl" in pq.read_schema(path).names
    except (OSError, pa.ArrowInvalid):  # replaced (gone) meanwhile
        return False


def query_needle(srv: Server, start: int, end: int) -> int:
    status, body = srv.get("/loki/api/v1/query_range", {"query": NEEDLE_QUERY, "start": str(start), "end": str(end),
                                                        "limit": "100000", "direction": "backward"})
    assert status == 200, body[:300]
    return sum(len(s["values"]) for s in orjson.loads(body)["data"]["result"])


def query_levels(srv: Server, start: int, end: int) -> dict[str, int]:
    status, body = srv.get("/loki/api/v1/query_range", {"query": METRIC_QUERY, "start": str(start + STEP_S * NS),
                                                        "end": str(end), "step": str(STEP_S)})
    assert status == 200, body[:300]
    return {s["metric"].get("level", ""): int(sum(float(v) for _, v in s["values"]))
            for s in orjson.loads(body)["data"]["result"]}


def jq_levels(raw: Path, start: int) -> dict[str, int]:
    """The same counts per level and 5-minute window with jq and awk."""
    out = sh(f"jq -r '\"\\(.level) \\(.ts)\"' {raw}/json.log | awk -v s={start / NS:.0f} -v st={STEP_S} "
             "'{k=($2-s)/st; b=(k==int(k))?k:int(k)+1; if (b>=1) c[$1\" \"b]++} END {for (x in c) print x, c[x]}'")
    totals: dict[str, int] = {}
    for row in out.splitlines():
        level, _, n = row.split()
        totals[level] = totals.get(level, 0) + int(n)
    return totals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048, help="MB of raw logs")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--zstd-level", type=int, default=19, help="reference compression of the raw files")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pharos-bench-logs-", dir="/tmp"))
    try:
        run(args, work)
    finally:
        for srv in Server.started:
            srv.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    raw, data, config = work / "raw", work / "data", work / "pharos.yml"
    raw.mkdir()
    config.write_text(CONFIG)
    start = (time.time_ns() // NS - 25 * 3600) * NS
    t = time.perf_counter()
    bodies, raw_bytes, lines = generate(args.size, raw, start, args.clients)
    print(f"generated {raw_bytes / 1e6:.0f} MB, {lines:,} lines, {sum(map(len, bodies))} pushes "
          f"in {time.perf_counter() - t:.0f} s")
    srv = Server(data, config)
    cpu0, t0 = srv.cpu(), time.perf_counter()
    push_all(srv.port, bodies)
    wall, cpu = time.perf_counter() - t0, srv.cpu() - cpu0
    del bodies
    srv.stop()
    report_ingest(raw_bytes, lines, wall, cpu)
    srv = Server(data, config)  # replays nothing (flushed), compacts on its maintenance rounds
    cpu0, t0 = srv.cpu(), time.perf_counter()
    blocks = wait_compacted(data / "logs")
    print(f"compaction: {time.perf_counter() - t0:.0f} s until settled, server CPU {srv.cpu() - cpu0:.1f} s "
          f"({raw_bytes / 1e6 / max(srv.cpu() - cpu0, 1e-9):.1f} MB/s per core)")
    stored = du(data / "logs")
    zstd = int(sh(f"cat {raw}/*.log | zstd -{args.zstd_level} -T0 -c | wc -c")) if shutil.which("zstd") else 0
    print(f"storage: {stored / 1e6:.1f} MB in {blocks} blocks = 1/{raw_bytes / stored:.1f} of raw"
          + (f" (zstd -{args.zstd_level} of the raw files: 1/{raw_bytes / zstd:.1f})" if zstd else ""))
    end = start + SPAN_NS
    report_queries(args, srv, raw, start, end, raw_bytes)
    srv.stop()
    print(f"machine: {platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {datetime.now(UTC):%Y-%m-%d}")


def report_ingest(raw_bytes: int, lines: int, wall: float, cpu: float) -> None:
    print(f"ingest: {raw_bytes / 1e6 / wall:.1f} MB/s wall, server CPU {cpu:.1f} s -> "
          f"{raw_bytes / 1e6 / cpu:.1f} MB/s and {lines / cpu:,.0f} lines/s per core")


def report_queries(args: argparse.Namespace, srv: Server, raw: Path, start: int, end: int, raw_bytes: int) -> None:
    tq, found = best_of(args.repeat, lambda: query_needle(srv, start, end))
    tg, grep = best_of(args.repeat, lambda: sum(int(x.rsplit(":", 1)[1]) for x in sh(
        f"grep -F -c {NEEDLE} {raw}/*.log || true").split()))
    assert found == grep, (found, grep)
    print(f"needle: pharos {tq:.2f} s, grep -F -c {tg:.2f} s, ratio {tq / tg:.2f}x ({found} lines, "
          f"{raw_bytes / 1e6 / tq:.0f} MB/s)")
    tm, levels = best_of(args.repeat, lambda: query_levels(srv, start, end))
    tj, jq = best_of(1, lambda: jq_levels(raw, start))
    assert levels == jq, (levels, jq)
    print(f"sum by (level) (count_over_time(... | json [5m])): pharos {tm:.2f} s, jq | awk {tj:.2f} s, "
          f"ratio {tm / tj:.2f}x ({levels})")


if __name__ == "__main__":
    main()
