"""Process, port and HTTP helpers shared by the end-to-end tests (tests/interop, tests/crash)
and the benchmarks. Standard library only, so it runs before pharos is installed.

Every process is started in its own session so that stopping it also stops its children, and
every start goes through a `Procs` registry whose `stop_all()` the callers run in teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PROMETHEUS = "/usr/bin/prometheus"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> list[int]:
    """`n` distinct free ports (all sockets held open until every port is chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def kill9(self) -> None:
        """SIGKILL the whole process group, and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` seconds."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill9()


@dataclass
class Procs:
    """Registry of started processes; `stop_all()` stops every one of them."""

    log_dir: Path
    procs: list[Proc] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Proc:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as fh:
            popen = subprocess.Popen(
                list(argv),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


@contextlib.contextmanager
def work_dir(prefix: str, keep: bool = False) -> Iterator[tuple[Path, Procs]]:
    """A fresh directory and process registry: every process stopped at the end, the directory
    removed unless `keep`."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    procs = Procs(tmp / "logs")
    try:
        yield tmp, procs
    finally:
        procs.stop_all()
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def write_report(out_dir: Path, name: str, report: dict[str, Any]) -> Path:
    """Write `report` to `<out_dir>/<name>-<timestamp>.json` and say where."""
    path = out_dir / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2, default=str))
    print(f"results written to {path}")
    return path


def py_spy(procs: Procs, pid: int, out: Path, rate: int, *flags: str) -> Proc:
    """`py-spy record` of `pid` (raw format) into `out`; it writes when `pid` exits or on SIGINT."""
    argv = [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", str(rate)]
    print(f"profiling pid {pid} into {out}", flush=True)
    return procs.start("py-spy", [*argv, *flags, "--format", "raw", "-o", str(out)])


def start_targets(procs: Procs, work: Path, targets: int, series: int, timeout: float = 60.0) -> list[int]:
    """benchmarks/targets.py serving `targets` targets of `series` series; the ports they listen on."""
    ports_file = work / "ports.json"
    argv = [sys.executable, str(HERE / "targets.py"), "--targets", str(targets), "--series", str(series)]
    proc = procs.start("targets", [*argv, "--ports-file", str(ports_file)])
    deadline = time.monotonic() + timeout
    while not ports_file.exists():
        if not proc.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"target server did not start:\n{proc.log_tail()}")
        time.sleep(0.1)
    return list(json.loads(ports_file.read_text()))


# ---------------------------------------------------------------------------------------- HTTP


def http_get(
    url: str, params: dict[str, Any] | Sequence[tuple[str, Any]] | None = None, timeout: float = 30.0
) -> bytes:
    if params:
        url = f"{url}?{urllib.parse.urlencode(params, doseq=True)}"
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return bytes(resp.read())


def api_get(
    base: str,
    path: str,
    params: dict[str, Any] | Sequence[tuple[str, Any]] | None = None,
    timeout: float = 30.0,
) -> Any:
    """GET a Prometheus-API endpoint and return `data` (raises on a non-success envelope)."""
    body = json.loads(http_get(base + path, params, timeout))
    if body.get("status") != "success":
        raise RuntimeError(f"{base}{path}: {body}")
    return body["data"]


def wait_http(url: str, proc: Proc | None = None, timeout: float = 30.0) -> None:
    """Poll `url` until it answers 200; fail early (with the log) if `proc` died."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited ({proc.popen.returncode}):\n{proc.log_tail()}")
        try:
            http_get(url, timeout=2.0)
            return
        except (OSError, urllib.error.URLError) as exc:
            last = str(exc)
        time.sleep(0.1)
    tail = proc.log_tail() if proc else ""
    raise TimeoutError(f"{url} not ready after {timeout}s ({last})\n{tail}")


def parse_text_metrics(text: str) -> dict[str, float]:
    """`name{labels}` -> value for a Prometheus text page (enough for our own figures)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, rest = line.rpartition(" ")
        if key and " " in key and not key.endswith("}"):  # a trailing timestamp
            key, _, rest = key.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[key] = float(rest)
    return out


# ------------------------------------------------------------------------------- the servers


def pharos_argv(config: Path, data_dir: Path, port: int, command: str = "server") -> list[str]:
    """How to start pharos: $PHAROS_CMD if set (split on spaces, e.g. a wrapper used for an
    experiment), else the console script next to this interpreter, else `-m pharos.cli`."""
    script = Path(sys.executable).parent / "pharos"
    if os.environ.get("PHAROS_CMD"):
        head = os.environ["PHAROS_CMD"].split()
    else:
        head = [str(script)] if script.exists() else [sys.executable, "-m", "pharos.cli"]
    return [
        *head,
        command,
        "--config",
        str(config),
        "--data-dir",
        str(data_dir),
        "--listen",
        f"127.0.0.1:{port}",
    ]


def prometheus_argv(config: Path, data_dir: Path, port: int, block: str | None = None) -> list[str]:
    argv = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    if block:
        argv += [f"--storage.tsdb.min-block-duration={block}", f"--storage.tsdb.max-block-duration={block}"]
    return argv


def start_server(
    procs: Procs,
    name: str,
    config: Path,
    data_dir: Path,
    prometheus_flags: Sequence[str] = (),
    block: str | None = None,
) -> tuple[Proc, str]:
    """Start pharos (`name` "pharos") or Prometheus (any other name, with `prometheus_flags` and
    fixed `block` durations) on a free port; (process, base URL), not waiting for readiness."""
    port = free_port()
    if name == "pharos":
        argv = pharos_argv(config, data_dir, port)
    else:
        argv = [*prometheus_argv(config, data_dir, port, block), *prometheus_flags]
    return procs.start(name, argv), f"http://127.0.0.1:{port}"


def scrape_config_yaml(
    jobs: dict[str, list[str]], interval: str, timeout: str | None = None, extra: str = ""
) -> str:
    """A prometheus.yml (also a valid pharos.yml) with one static job per entry of `jobs`."""
    lines = [
        "global:",
        f"  scrape_interval: {interval}",
        f"  scrape_timeout: {timeout or interval}",
        "scrape_configs:",
    ]
    for job, targets in jobs.items():
        lines += [
            f"  - job_name: {job}",
            "    static_configs:",
            f"      - targets: [{', '.join(repr(t) for t in targets)}]",
        ]
    return "\n".join(lines) + "\n" + extra


# -------------------------------------------------------------------------------- /proc figures


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(c) for c in (task / "children").read_text().split()]
    return kids


def process_tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def cpu_seconds(pid: int) -> float:
    """utime+stime of `pid` and its live descendants, plus its reaped children (cutime+cstime)."""
    total = 0.0
    for i, p in enumerate(process_tree(pid)):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks = int(fields[11]) + int(fields[12])  # utime, stime
            if i == 0:
                ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
            total += ticks / CLK_TCK
    return total


def _status_kb(pid: int, key: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_bytes(pid: int) -> int:
    """Current VmRSS of `pid` and its descendants."""
    return sum(_status_kb(p, "VmRSS") for p in process_tree(pid)) * 1024


def hwm_bytes(pid: int) -> int:
    """Peak RSS (VmHWM) of `pid` plus that of its live descendants."""
    return sum(_status_kb(p, "VmHWM") for p in process_tree(pid)) * 1024


def dir_bytes(path: Path, pattern: str = "**/*") -> int:
    return sum(f.stat().st_size for f in path.glob(pattern) if f.is_file())


def iter_json_lines(body: bytes) -> Iterator[dict[str, Any]]:
    for line in body.splitlines():
        if line.strip():
            yield json.loads(line)
