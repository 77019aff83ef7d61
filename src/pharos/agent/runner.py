"""The node agent: options, start/stop, the read loop and the /metrics listener."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pharos.agent.checkpoint import Checkpoint
from pharos.agent.http import Connect, Handler, MetricsServer, PushClient
from pharos.agent.kube import PodCache, watch_node_pods
from pharos.agent.labels import LabelPolicy, parse_kubelet_path
from pharos.agent.multiline import MultilineRule
from pharos.agent.node import NodeCollector
from pharos.agent.options import AgentOptions
from pharos.agent.pipeline import Pipeline
from pharos.agent.ship import Shipper
from pharos.agent.tail import Tailer
from pharos.metrics.exposition.writer import Exposition

if TYPE_CHECKING:
    from pharos.agent.webconfig import WebConfig
    from pharos.kube.watch import KubeConfig, ListWatch

log = logging.getLogger(__name__)


class Agent:
    """One agent: ``await agent.start()``, ``await agent.stop()``."""

    def __init__(self, options: AgentOptions, connect: Connect = PushClient) -> None:
        self.options = options
        self.connect = connect  # how the shipper reaches the push URL
        self.node = options.node_name or os.environ.get("NODE_NAME") or socket.gethostname()
        self.cache = PodCache()
        self.checkpoint: Checkpoint | None = None
        self.shipper: Shipper | None = None
        self.pipeline: Pipeline | None = None
        self.watch: ListWatch | None = None
        self.collector = NodeCollector(
            proc=options.proc_root, cgroup=options.cgroup_root, containers=self._containers
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._http: MetricsServer | None = None
        self._stop = asyncio.Event()
        self.started = time.time()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open positions, start tailing, shipping, the pod watch and the listener."""
        o = self.options
        web = self._web_config() if o.listen else None  # first: a bad file stops the start
        if o.logs_enabled and o.logs:
            self._start_logs()
        if o.listen:
            await self._start_http(o.listen, web)

    def _start_logs(self) -> None:
        o = self.options
        self.checkpoint = Checkpoint(o.positions)
        policy = LabelPolicy(
            node=self.node,
            static=dict(o.static_labels),
            pod_labels=o.pod_labels,
            exclude_namespaces=list(o.exclude_namespaces),
            exclude_pods=list(o.exclude_pods),
        )
        kube = self._kube_config()
        if kube is not None:
            policy.cache = self.cache
            self.watch = watch_node_pods(kube, self.node, self.cache)
            self._tasks.append(asyncio.create_task(self.watch.run(), name="pharos-agent-kube"))
        tailer = Tailer(
            list(o.logs),
            self.checkpoint.resume_offset,
            max_line_size=o.max_line_size,
            scan_interval=o.scan_interval,
        )
        for path, ino, offset in self.checkpoint.rotated_leftovers():
            rotated = _find_inode(Path(path).parent, ino) or _find_inode(
                Path(os.path.realpath(path)).parent, ino
            )
            if rotated is not None:
                tailer.add_rotated(path, str(rotated), offset)
        rules = {r["name"]: MultilineRule(r["name"], r["firstline"]) for r in o.multiline_rules}
        self.pipeline = Pipeline(
            tailer,
            policy,
            multiline=o.multiline,
            rules=rules,
            default_rule=o.multiline_default,
            flush_timeout=o.flush_timeout,
            max_line_size=o.max_line_size,
            batch_bytes=o.batch_bytes,
            batch_wait=o.batch_wait,
        )
        dead = o.dead_letter or Path(o.positions).with_name("dead-letter.jsonl")
        self.shipper = Shipper(
            o.push_url,
            self.checkpoint,
            max_memory=o.max_memory,
            max_buffer=o.max_buffer,
            min_backoff=o.min_backoff,
            max_backoff=o.max_backoff,
            tenant=o.tenant,
            dead_letter=dead,
            connect=self.connect,
        )
        self.shipper.start()
        self._tasks.append(asyncio.create_task(self._read_loop(), name="pharos-agent-reader"))

    def _kube_config(self) -> KubeConfig | None:
        o = self.options
        if o.kubernetes is False or (o.kubernetes is None and not o.kube_api_url and not _in_cluster()):
            return None
        from pharos.kube.watch import KubeConfig  # aiohttp: imported only when the pods are watched

        if o.kube_api_url:
            return KubeConfig(o.kube_api_url, o.kube_token_file, o.kube_ca_file)
        return KubeConfig.in_cluster()

    async def stop(self) -> None:
        """Stop reading, deliver or spool what was read, save positions, close files."""
        self._stop.set()
        reader = next((t for t in self._tasks if t.get_name() == "pharos-agent-reader"), None)
        if reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        for task in self._tasks:
            if task is not reader:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
        if self.shipper is not None and self.pipeline is not None:
            self.shipper.submit(self.pipeline.seal())
            await self.shipper.stop()
        if self.pipeline is not None:
            self.pipeline.tailer.close()
        if self.checkpoint is not None:
            self.checkpoint.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _read_loop(self) -> None:
        assert self.pipeline is not None and self.shipper is not None
        pipeline, shipper = self.pipeline, self.shipper
        while not self._stop.is_set():
            if not shipper.has_room():
                await _first(shipper.wait_room(), self._stop.wait())
                continue
            batches, busy = await asyncio.to_thread(pipeline.step)
            for batch in batches:
                shipper.submit(batch)
            if not busy:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.options.poll_interval)

    # -- metrics -----------------------------------------------------------------------

    def _web_config(self) -> WebConfig | None:
        """The listener's `--web.config.file` (WebConfigError, a ValueError, when unusable)."""
        if self.options.web_config_file is None:
            return None
        from pharos.agent.webconfig import WebConfig  # TLS and bcrypt only when asked for

        return WebConfig(self.options.web_config_file)

    async def _start_http(self, listen: str, web: WebConfig | None) -> None:
        host, _, port = listen.rpartition(":")
        if not port.isdigit():
            raise ValueError(f"--listen {listen!r}: expected HOST:PORT")
        routes: dict[str, Handler] = {"/metrics": self._metrics_body, "/-/healthy": _ok, "/-/ready": _ok}
        self._http = MetricsServer(routes, web)
        await self._http.start(host.strip("[]") or "0.0.0.0", int(port))

    async def _metrics_body(self) -> tuple[bytes, str]:
        text = await asyncio.to_thread(self.metrics_text)
        return text.encode(), "text/plain"

    def metrics_text(self) -> str:
        """Node, container and agent metrics in the text format."""
        exp = Exposition()
        if self.options.metrics_enabled:
            self.collector.collect(exp)
        self._own_metrics(exp)
        return exp.render()

    def _own_metrics(self, exp: Exposition) -> None:
        exp.add("pharos_agent_start_time_seconds", "gauge", "When the agent started.", self.started)
        if self.pipeline is not None:
            p = self.pipeline
            exp.add(
                "pharos_agent_lines_read_total", "counter", "Raw lines read from files.", p.stats.lines_read
            )
            exp.add(
                "pharos_agent_records_total",
                "counter",
                "Records after parsing and multiline joining.",
                p.stats.records,
            )
            exp.add(
                "pharos_agent_records_excluded_total",
                "counter",
                "Records of excluded pods.",
                p.stats.records_excluded,
            )
            exp.add("pharos_agent_read_bytes_total", "counter", "Bytes read from files.", p.tailer.bytes_read)
            exp.add(
                "pharos_agent_files_open",
                "gauge",
                "Files being followed.",
                len(p.tailer.active) + len(p.tailer.draining),
            )
            for path, lag in p.tailer.lag().items():
                exp.add(
                    "pharos_agent_file_lag_bytes",
                    "gauge",
                    "Bytes written to a file and not yet read.",
                    lag,
                    {"path": path},
                )
        if self.shipper is not None and self.checkpoint is not None:
            s = self.shipper.stats
            for name, value, help_ in (
                ("lines_shipped_total", s.lines_shipped, "Lines acknowledged by the endpoint."),
                ("bytes_shipped_total", s.bytes_shipped, "Compressed bytes acknowledged by the endpoint."),
                ("batches_shipped_total", s.batches_shipped, "Batches acknowledged by the endpoint."),
                ("send_errors_total", s.send_errors, "Failed push attempts."),
                ("retries_total", s.retries, "Push retries."),
                ("lines_dropped_total", s.lines_dropped, "Lines dropped because the disk buffer was full."),
                ("bytes_dropped_total", s.bytes_dropped, "Bytes dropped because the disk buffer was full."),
                ("lines_dead_lettered_total", s.lines_dead_lettered, "Lines the endpoint rejected (4xx)."),
            ):
                exp.add("pharos_agent_" + name, "counter", help_, value)
            exp.add(
                "pharos_agent_buffered_bytes",
                "gauge",
                "Bytes waiting for delivery.",
                self.shipper.memory_bytes,
                {"where": "memory"},
            )
            exp.add(
                "pharos_agent_buffered_bytes",
                "gauge",
                "Bytes waiting for delivery.",
                self.checkpoint.spool_bytes,
                {"where": "disk"},
            )
        if self.watch is not None:
            exp.add(
                "pharos_agent_kube_pods",
                "gauge",
                "Pods of this node known from the API.",
                len(self.cache.pods),
            )
            exp.add("pharos_agent_kube_errors_total", "counter", "Kubernetes API errors.", self.watch.errors)

    def _containers(self) -> dict[str, tuple[str, str, str]]:
        out: dict[str, tuple[str, str, str]] = {}
        if self.pipeline is None:
            return out
        for path in list(self.pipeline.tailer.active):
            ident = parse_kubelet_path(path)
            if ident is not None and ident.container_id:
                out[ident.container_id] = (ident.namespace, ident.pod, ident.container)
        return out


async def _first(*aws: Any) -> None:
    """Wait for the first of ``aws`` to finish, cancel the others."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


async def _ok() -> tuple[bytes, str]:
    return b"OK\n", "text/plain"


def _in_cluster() -> bool:
    """Inside a pod (what ``KubeConfig.in_cluster`` looks for), without importing the watch."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST") and os.environ.get("KUBERNETES_SERVICE_PORT"))


def _find_inode(directory: Path, ino: int) -> Path | None:
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.is_file(follow_symlinks=False) and entry.inode() == ino:
                    return Path(entry.path)
    except OSError:
        return None
    return None


async def run_agent(options: AgentOptions) -> None:
    """Run until SIGTERM/SIGINT (or cancellation), then stop cleanly."""
    agent = Agent(options)
    await agent.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await agent.stop()
