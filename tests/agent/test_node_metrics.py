"""Node metrics against the real prometheus-node-exporter on this machine: same names and label sets
for the series pharos covers, equal values where the value is static."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeloki import free_port
from prometheus_client.parser import text_string_to_metric_families

from pharos.agent import Agent, AgentOptions
from pharos.agent.node import DISK_FIELDS, Exposition, NodeCollector

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
COVERED_PREFIXES = ("node_cpu_seconds_total", "node_cpu_guest_seconds_total", "node_memory_", "node_load",
                    "node_network_receive_", "node_network_transmit_", "node_boot_time_seconds",
                    "node_context_switches_total", "node_forks_total", "node_intr_total", "node_procs_",
                    "node_uname_info", "node_time_seconds")
FS = ("node_filesystem_size_bytes", "node_filesystem_avail_bytes", "node_filesystem_free_bytes",
      "node_filesystem_files", "node_filesystem_files_free", "node_filesystem_readonly")


def samples(text: str) -> dict[str, dict[frozenset, float]]:
    out: dict[str, dict[frozenset, float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[frozenset(s.labels.items())] = s.value
    return out


@pytest.fixture(scope="module")
def node_exporter() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def covered(name: str) -> bool:
    if name.startswith("node_network_receive_nohandler") or name == "node_network_transmit_queue_length":
        return False  # a netlink-only counter and a netclass (sysfs) gauge: not claimed
    return name.startswith(COVERED_PREFIXES) or name in FS or name in {n for _, n, _ in DISK_FIELDS}


def test_names_labels_and_static_values_match_node_exporter(node_exporter: str) -> None:
    theirs = samples(urllib.request.urlopen(node_exporter, timeout=10).read().decode())
    exp = Exposition()
    NodeCollector().collect(exp)
    ours = samples(exp.render())
    claimed = {n for n in theirs if covered(n)}
    assert claimed - set(ours) == set(), "series node_exporter has that pharos claims but lacks"
    for name in claimed:
        if name in ("node_time_seconds",):
            continue
        assert set(ours[name]) == set(theirs[name]), name
    assert ours["node_memory_MemTotal_bytes"] == theirs["node_memory_MemTotal_bytes"]
    assert ours["node_memory_SwapTotal_bytes"] == theirs["node_memory_SwapTotal_bytes"]
    assert ours["node_filesystem_size_bytes"] == theirs["node_filesystem_size_bytes"]
    assert ours["node_filesystem_files"] == theirs["node_filesystem_files"]
    assert ours["node_boot_time_seconds"] == theirs["node_boot_time_seconds"]
    cpus = {dict(k)["cpu"] for k in ours["node_cpu_seconds_total"]}
    assert cpus == {dict(k)["cpu"] for k in theirs["node_cpu_seconds_total"]}
    assert ours["node_uname_info"] == theirs["node_uname_info"]


async def test_agent_serves_metrics_on_listen(tmp_path: Path) -> None:
    port = free_port()
    agent = Agent(AgentOptions(listen=f"127.0.0.1:{port}", logs=[], positions=tmp_path / "p.db", kubernetes=False))
    await agent.start()
    try:
        import aiohttp

        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
            text = await r.text()
    finally:
        await agent.stop()
    got = samples(text)
    assert "node_load1" in got and "pharos_agent_start_time_seconds" in got


def test_cgroup_v2_container_metrics(tmp_path: Path) -> None:
    """A cgroup v2 tree laid out as the kubelet's systemd driver does (this host runs cgroup v1)."""
    cid = "c0ffee" * 10 + "abcd"
    scope = tmp_path / "kubepods.slice" / "kubepods-burstable.slice" / "kubepods-burstable-pod1.slice" / \
        f"cri-containerd-{cid}.scope"
    scope.mkdir(parents=True)
    (tmp_path / "cgroup.controllers").write_text("cpu memory io\n")
    (scope / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_throttled 3\n")
    (scope / "memory.current").write_text("104857600\n")
    (scope / "memory.stat").write_text("anon 50000000\nfile 40000000\ninactive_file 4857600\n")
    (scope / "io.stat").write_text("8:0 rbytes=1000 wbytes=2000 rios=1 wios=2\n8:16 rbytes=1 wbytes=2\n")
    exp = Exposition()
    NodeCollector(cgroup=tmp_path, containers=lambda: {cid: ("shop", "web-1", "nginx")}).cgroups(exp)
    got = samples(exp.render())
    key = next(iter(got["container_cpu_usage_seconds_total"]))
    assert {"namespace": "shop", "pod": "web-1", "container": "nginx"}.items() <= dict(key).items()
    assert got["container_cpu_usage_seconds_total"][key] == 2.5
    assert got["container_memory_working_set_bytes"][key] == 100_000_000
    assert got["container_fs_reads_bytes_total"][key] == 1001
    assert got["container_fs_writes_bytes_total"][key] == 2002
