"""Agent benchmark: tail -> parse -> multiline -> batch -> push, over CRI container logs.

    .venv/bin/python benchmarks/agent.py                # 1 GB across 50 files
    .venv/bin/python benchmarks/agent.py --size 200M    # a smaller run
    .venv/bin/python benchmarks/agent.py --profile      # py-spy profile of the discard-sink run

Generates `--size` bytes of CRI-format lines across `--files` kubelet-named files under a
temporary directory in /tmp (deleted at the end), then runs `pharos agent` on them twice:
into a discard sink (a loopback HTTP server in its own process that answers 204 and drops
the body) and into a real `pharos server`. Per run: lines/s and MB/s per CPU core of the
agent process (CPU time = utime+stime from /proc), its steady RSS (median of the polls while
it works) and peak RSS; `cat` over the same files is the ratio base. Exit status 1 when a
floor of issue 5 fails (>= 100k lines/s per core into the discard sink, RSS <= 150 MB).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from e2e_harness import (
    Proc,
    Procs,
    cpu_seconds,
    free_port,
    http_get,
    hwm_bytes,
    parse_text_metrics,
    py_spy,
    rss_bytes,
    start_server,
    wait_http,
    work_dir,
    write_report,
)

HERE = Path(__file__).resolve().parent
MB = 1_000_000
FLOOR_LINES, TARGET_LINES = 100_000, 300_000
FLOOR_RSS, TARGET_RSS = 150 * 2**20, 60 * 2**20
SERVER_CONFIG = """\
logs:
  limits:
    ingestion_rate_mb: 100000
    ingestion_burst_size_mb: 100000
    max_global_streams_per_user: 100000
"""
AGENT_CONFIG = "agent:\n  metrics_enabled: false\n  kubernetes: false\n"

# ------------------------------------------------------------------------------- the files

MESSAGES = [
    '{{"level":"info","ts":"{t}","caller":"server/handler.go:{n}","msg":"request served",'
    '"method":"GET","path":"/api/v1/items/{n}","status":200,"duration_ms":{d}}}',
    '10.0.{a}.{b} - - [{t}] "GET /static/app.{n}.js HTTP/1.1" 200 {d} "-" "Mozilla/5.0 (X11; Linux x86_64)"',
    "level=warn ts={t} component=cache msg=\"evicting entries\" count={n} size_bytes={d}",
    "{t} INFO  [worker-{a}] c.e.orders.OrderService - processed order {n} in {d} ms",
]
STACK = [
    "{t} ERROR [worker-{a}] c.e.orders.OrderService - failed order {n}",
    "java.lang.IllegalStateException: order {n} is not open",
    "\tat com.example.orders.OrderService.process(OrderService.java:{a})",
    "\tat com.example.orders.Worker.run(Worker.java:88)",
    "\tat java.base/java.lang.Thread.run(Thread.java:833)",
]


def parse_size(text: str) -> int:
    units = {"K": 10**3, "M": 10**6, "G": 10**9}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def file_name(i: int) -> str:
    """A kubelet /var/log/containers name: <pod>_<namespace>_<container>-<container id>.log."""
    cid = f"{i:08x}" * 8
    return f"app-{i}-7d9f8c6b5-x{i:04d}_bench_app-{cid}.log"


def _cri_ts(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def _record(rng: random.Random, n: int) -> list[str]:
    """One log record as message lines (a Java stack trace about once in 200 records)."""
    fields = {"t": "", "n": n, "d": rng.randrange(1, 5000), "a": rng.randrange(256), "b": rng.randrange(256)}
    lines = STACK if rng.random() < 0.005 else [rng.choice(MESSAGES)]
    return [line.format(**fields) for line in lines]


def write_file(path: Path, size: int, seed: int, start_ns: int) -> int:
    """CRI lines until `size` bytes; ~1% of records split into a P and an F part. Returns lines."""
    rng = random.Random(seed)
    ns, n, lines, written = start_ns, 0, 0, 0
    out: list[str] = []
    while written < size:
        n += 1
        ns += rng.randrange(50_000, 400_000)
        ts = _cri_ts(ns)
        for msg in _record(rng, n):
            stream = "stderr" if n % 7 == 0 else "stdout"
            if rng.random() < 0.01 and len(msg) > 20:
                out.append(f"{ts} {stream} P {msg[:20]}\n")
                msg, lines = msg[20:], lines + 1
            out.append(f"{ts} {stream} F {msg}\n")
            lines += 1
        if len(out) >= 4096:
            written += _flush(path, out)
    written += _flush(path, out)
    return lines


def _flush(path: Path, out: list[str]) -> int:
    data = "".join(out).encode()
    out.clear()
    with path.open("ab") as fh:
        fh.write(data)
    return len(data)


@dataclass
class Corpus:
    gen_dir: Path
    files: list[Path]
    lines: int
    bytes: int


def generate(gen_dir: Path, size: int, n_files: int) -> Corpus:
    gen_dir.mkdir(parents=True)
    per_file = size // n_files
    start_ns = time.time_ns() - 3600 * 1_000_000_000
    files, lines = [], 0
    for i in range(n_files):
        path = gen_dir / file_name(i)
        lines += write_file(path, per_file, seed=i, start_ns=start_ns)
        files.append(path)
    return Corpus(gen_dir, files, lines, sum(f.stat().st_size for f in files))


# --------------------------------------------------------------------------------- cat


def run_cat(files: list[Path]) -> dict[str, float]:
    """CPU time (user+sys from wait4) and wall time of `cat FILES > /dev/null`."""
    t0 = time.monotonic()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(["cat", *map(str, files)], stdout=null)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"cat exited {proc.returncode}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "wall_s": time.monotonic() - t0}


# ----------------------------------------------------------------------------- the sink


def run_sink(port: int) -> None:
    """The discard sink: answers every POST with 204 and drops the body (its own process)."""
    from aiohttp import web

    async def push(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    async def ok(_request: web.Request) -> web.Response:
        return web.Response(text="OK\n")

    app = web.Application(client_max_size=64 << 20)
    app.router.add_post("/loki/api/v1/push", push)
    app.router.add_get("/-/ready", ok)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# ---------------------------------------------------------------------------- the agent


@dataclass
class AgentRun:
    sink: str
    lines: int = 0
    bytes: int = 0
    records: int = 0
    shipped: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    sink_cpu_s: float = 0.0
    rss_polls: list[int] = field(default_factory=list)
    peak_rss: int = 0

    def summary(self) -> dict[str, Any]:
        cpu = self.cpu_s or float("nan")
        return {
            "lines": self.lines,
            "records_shipped": self.shipped,
            "mb": self.bytes / MB,
            "wall_s": self.wall_s,
            "agent_cpu_s": self.cpu_s,
            "lines_per_s_per_core": self.lines / cpu,
            "mb_per_s_per_core": self.bytes / MB / cpu,
            "lines_per_s_wall": self.lines / self.wall_s,
            "steady_rss_bytes": int(statistics.median(self.rss_polls)) if self.rss_polls else 0,
            "peak_rss_bytes": self.peak_rss,
            "sink_cpu_s": self.sink_cpu_s,
        }


def agent_metrics(port: int) -> dict[str, float]:
    return parse_text_metrics(http_get(f"http://127.0.0.1:{port}/metrics", timeout=30).decode())


def start_agent(procs: Procs, tmp: Path, name: str, push_url: str, port: int) -> Proc:
    watch = tmp / f"watch-{name}"
    watch.mkdir()
    config = tmp / "agent.yml"
    config.write_text(AGENT_CONFIG)
    script = Path(sys.executable).parent / "pharos"
    argv = [
        str(script), "agent", "--config", str(config), "--logs", str(watch / "*.log"),
        "--push-url", push_url, "--positions", str(tmp / f"positions-{name}.db"),
        "--listen", f"127.0.0.1:{port}", "--log-level", "warning",
    ]
    proc = procs.start(f"agent-{name}", argv)
    wait_http(f"http://127.0.0.1:{port}/-/ready", proc, timeout=60)
    return proc


def move_files(files: list[Path], dest: Path) -> list[Path]:
    moved = []
    for f in files:
        target = dest / f.name
        os.rename(f, target)
        moved.append(target)
    return moved


def drive_agent(procs: Procs, tmp: Path, corpus: Corpus, run: AgentRun, push_url: str,
                args: argparse.Namespace, sink: Proc | None) -> None:
    """Start the agent on an empty directory, move the files in, poll until all is shipped."""
    port = free_port()
    agent = start_agent(procs, tmp, run.sink, push_url, port)
    time.sleep(1.0)  # settled after start-up: imports and the first glob scan are not counted
    cpu0, sink0 = cpu_seconds(agent.pid), cpu_seconds(sink.pid) if sink else 0.0
    t0 = time.monotonic()
    if args.profile and run.sink == "discard":
        py_spy(procs, agent.pid, args.out / f"agent-profile-{time.strftime('%Y%m%d-%H%M%S')}.txt", 100, "--threads")
    corpus.files = move_files(corpus.files, tmp / f"watch-{run.sink}")
    try:
        wait_shipped(agent, port, corpus, run, args.timeout)
    finally:
        corpus.files = move_files(corpus.files, corpus.gen_dir)
    run.wall_s = time.monotonic() - t0
    run.cpu_s = cpu_seconds(agent.pid) - cpu0
    run.sink_cpu_s = (cpu_seconds(sink.pid) - sink0) if sink else 0.0
    run.peak_rss = hwm_bytes(agent.pid)
    agent.stop()


def wait_shipped(agent: Proc, port: int, corpus: Corpus, run: AgentRun, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not agent.alive():
            raise RuntimeError(f"agent died:\n{agent.log_tail()}")
        time.sleep(0.5)
        run.rss_polls.append(rss_bytes(agent.pid))
        m = agent_metrics(port)
        run.lines = int(m.get("pharos_agent_lines_read_total", 0))
        run.bytes = int(m.get("pharos_agent_read_bytes_total", 0))
        run.records = int(m.get("pharos_agent_records_total", 0))
        run.shipped = int(m.get("pharos_agent_lines_shipped_total", 0))
        if run.lines >= corpus.lines and run.shipped >= run.records > 0:
            return
        print(f"  {run.sink}: {run.lines:,}/{corpus.lines:,} lines read, {run.shipped:,} shipped", end="\r")
    raise TimeoutError(f"{run.sink}: {run.lines} of {corpus.lines} lines read, {run.shipped} shipped")


# ------------------------------------------------------------------------------ servers


def start_sink(procs: Procs) -> tuple[Proc, str]:
    port = free_port()
    proc = procs.start("sink", [sys.executable, str(Path(__file__).resolve()), "--sink-port", str(port)])
    wait_http(f"http://127.0.0.1:{port}/-/ready", proc, timeout=30)
    return proc, f"http://127.0.0.1:{port}"


def start_pharos(procs: Procs, tmp: Path) -> tuple[Proc, str]:
    config = tmp / "pharos.yml"
    config.write_text(SERVER_CONFIG)
    proc, url = start_server(procs, "pharos", config, tmp / "pharos-data")
    wait_http(url + "/-/ready", proc, timeout=90)
    return proc, url


# ------------------------------------------------------------------------------- report


def report(corpus: Corpus, cat: dict[str, float], runs: list[AgentRun]) -> dict[str, Any]:
    cat_mb_core = corpus.bytes / MB / cat["cpu_s"] if cat["cpu_s"] else float("inf")
    out: dict[str, Any] = {
        "corpus": {"files": len(corpus.files), "lines": corpus.lines, "mb": corpus.bytes / MB},
        "cat": cat | {"mb_per_s_per_core": cat_mb_core, "lines_per_s_per_core": corpus.lines / max(cat["cpu_s"], 1e-9)},
        "runs": {},
    }
    for run in runs:
        s = run.summary()
        s["cpu_vs_cat"] = run.cpu_s / cat["cpu_s"] if cat["cpu_s"] else float("inf")
        out["runs"][run.sink] = s
    return out


def print_report(rep: dict[str, Any]) -> None:
    c, cat = rep["corpus"], rep["cat"]
    print(f"\ncorpus: {c['files']} files, {c['lines']:,} lines, {c['mb']:,.0f} MB (CRI)")
    print(f"cat: {cat['cpu_s']:.2f} CPU s, {cat['mb_per_s_per_core']:,.0f} MB/s per core, "
          f"{cat['lines_per_s_per_core']:,.0f} lines/s per core")
    head = f"{'sink':<10}{'lines/s/core':>14}{'MB/s/core':>11}{'CPU s':>8}{'wall s':>8}" \
           f"{'steady RSS':>12}{'peak RSS':>10}{'x cat CPU':>11}"
    print(head)
    for name, s in rep["runs"].items():
        print(f"{name:<10}{s['lines_per_s_per_core']:>14,.0f}{s['mb_per_s_per_core']:>11,.1f}"
              f"{s['agent_cpu_s']:>8.1f}{s['wall_s']:>8.1f}{s['steady_rss_bytes'] / 2**20:>10.1f}Mi"
              f"{s['peak_rss_bytes'] / 2**20:>8.1f}Mi{s['cpu_vs_cat']:>10.0f}x")


def verdicts(rep: dict[str, Any]) -> bool:
    s = rep["runs"].get("discard")
    if s is None:
        return True
    checks = [
        ("lines/s per core (discard)", s["lines_per_s_per_core"] >= FLOOR_LINES, s["lines_per_s_per_core"] >= TARGET_LINES),
        ("steady RSS", s["steady_rss_bytes"] <= FLOOR_RSS, s["steady_rss_bytes"] <= TARGET_RSS),
        ("peak RSS", s["peak_rss_bytes"] <= FLOOR_RSS, s["peak_rss_bytes"] <= TARGET_RSS),
    ]
    for name, floor_ok, target_ok in checks:
        print(f"{name:<28} floor {'PASS' if floor_ok else 'FAIL'}   target {'met' if target_ok else 'missed'}")
    rep["verdicts"] = [{"check": n, "floor_ok": f, "target_ok": t} for n, f, t in checks]
    return all(f for _, f, _ in checks)


# --------------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=parse_size, default=parse_size("1G"), help="bytes of logs (1G, 200M, ...)")
    p.add_argument("--files", type=int, default=50)
    p.add_argument("--sinks", default="discard,pharos", help="comma-separated: discard, pharos")
    p.add_argument("--timeout", type=float, default=1800.0, help="max seconds per run")
    p.add_argument("--profile", action="store_true", help="py-spy record the agent (discard run)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    p.add_argument("--out", type=Path, default=HERE / "out")
    p.add_argument("--sink-port", type=int, help=argparse.SUPPRESS)
    return p.parse_args()


def check_space(size: int) -> None:
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < 2 * size + 2 * 10**9:
        raise SystemExit(f"not enough space in {tempfile.gettempdir()}: {free / 1e9:.1f} GB free")


def run_all(args: argparse.Namespace, tmp: Path, procs: Procs) -> dict[str, Any]:
    print(f"generating {args.size / MB:,.0f} MB across {args.files} files in {tmp}")
    t0 = time.monotonic()
    corpus = generate(tmp / "gen", args.size, args.files)
    print(f"  {corpus.lines:,} lines, {corpus.bytes / MB:,.0f} MB in {time.monotonic() - t0:.0f}s")
    run_cat(corpus.files)  # warm the page cache for every reader alike
    cat = run_cat(corpus.files)
    runs = []
    for sink_name in args.sinks.split(","):
        run = AgentRun(sink_name)
        sink, url = start_sink(procs) if sink_name == "discard" else start_pharos(procs, tmp)
        drive_agent(procs, tmp, corpus, run, f"{url}/loki/api/v1/push", args, sink)
        sink.stop()
        print(f"  {sink_name}: done in {run.wall_s:.1f}s" + " " * 40)
        runs.append(run)
    return report(corpus, cat, runs) | {"runs_raw": [asdict(r) | {"rss_polls": r.rss_polls[-5:]} for r in runs]}


def main() -> int:
    args = parse_args()
    if args.sink_port:
        run_sink(args.sink_port)
        return 0
    check_space(args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    with work_dir("pharos-bench-agent-", args.keep) as (tmp, procs):
        rep = run_all(args, tmp, procs)
        print_report(rep)
        ok = verdicts(rep)
        rep |= {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "args": vars(args) | {"out": str(args.out)}}
        write_report(args.out, "agent", rep)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
