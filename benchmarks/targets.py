"""Many loopback scrape targets in one process, each serving node_exporter-shaped metrics.

    python benchmarks/targets.py --targets 100 --series 2000 --ports-file ports.json

Each target listens on its own 127.0.0.1 port (the chosen ports are written to --ports-file as
a JSON list once all are listening) and serves `--series` series: CPU seconds per mode per cpu,
memory gauges, filesystems, network and disk counters, interrupts, collector durations. Counters
increase, gauges move (with decimals), values change every second. A page is rendered at most
once per second per target (both scrapers of one second see the same page), from precomputed
line prefixes plus a vectorised value update, so the target server is not the bottleneck.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from aiohttp import web

CPU_MODES = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")
MEMORY = (
    "Active",
    "Active_anon",
    "Active_file",
    "AnonHugePages",
    "AnonPages",
    "Bounce",
    "Buffers",
    "Cached",
    "CommitLimit",
    "Committed_AS",
    "DirectMap1G",
    "DirectMap2M",
    "DirectMap4k",
    "Dirty",
    "HugePages_Free",
    "HugePages_Rsvd",
    "HugePages_Surp",
    "HugePages_Total",
    "Hugepagesize",
    "Inactive",
    "Inactive_anon",
    "Inactive_file",
    "KernelStack",
    "Mapped",
    "MemAvailable",
    "MemFree",
    "MemTotal",
    "Mlocked",
    "NFS_Unstable",
    "PageTables",
    "Percpu",
    "SReclaimable",
    "SUnreclaim",
    "Shmem",
    "ShmemHugePages",
    "ShmemPmdMapped",
    "Slab",
    "SwapCached",
    "SwapFree",
    "SwapTotal",
    "Unevictable",
    "VmallocChunk",
    "VmallocTotal",
    "VmallocUsed",
    "Writeback",
)
FILESYSTEMS = (
    ("/dev/nvme0n1p2", "ext4", "/"),
    ("/dev/nvme0n1p1", "vfat", "/boot/efi"),
    ("/dev/nvme1n1", "xfs", "/var/lib/containers"),
    ("tmpfs", "tmpfs", "/run"),
    ("tmpfs", "tmpfs", "/run/lock"),
    ("tmpfs", "tmpfs", "/run/user/1000"),
    ("/dev/sda1", "ext4", "/data"),
    ("/dev/sdb1", "ext4", "/backup"),
    ("overlay", "overlay", "/var/lib/docker/overlay2/merged"),
    ("/dev/nvme0n1p3", "ext4", "/home"),
)
NET_DEVICES = ("lo", "eth0", "eth1", "docker0", "veth1a2b3c", "veth4d5e6f", "cni0", "flannel.1")
NET_COUNTERS = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
DISKS = ("nvme0n1", "nvme1n1", "sda", "sdb", "dm-0", "dm-1", "loop0", "loop1")
DISK_COUNTERS = (
    "reads_completed",
    "reads_merged",
    "read_bytes",
    "read_time_seconds",
    "writes_completed",
    "writes_merged",
    "written_bytes",
    "write_time_seconds",
    "io_time_seconds",
    "io_time_weighted_seconds",
    "discards_completed",
    "discards_merged",
    "discarded_sectors",
    "discard_time_seconds",
    "flush_requests",
    "flush_requests_time_seconds",
)
COLLECTORS = (
    "arp",
    "bcache",
    "bonding",
    "btrfs",
    "conntrack",
    "cpu",
    "cpufreq",
    "diskstats",
    "dmi",
    "edac",
    "entropy",
    "fibrechannel",
    "filefd",
    "filesystem",
    "hwmon",
    "infiniband",
    "ipvs",
    "loadavg",
    "mdadm",
    "meminfo",
    "netclass",
    "netdev",
    "netstat",
    "nfs",
    "nfsd",
    "nvme",
    "os",
    "powersupplyclass",
    "pressure",
    "rapl",
    "schedstat",
    "selinux",
    "sockstat",
    "softnet",
    "stat",
    "tapestats",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
    "xfs",
    "zfs",
)
CPUS = 16

# kinds: how a series' value evolves (all kept as integers `units`, shown as units / scale)
CONST, COUNTER, CENTI_COUNTER, GAUGE, DECIMAL_GAUGE, NANO_GAUGE = range(6)


@dataclass
class Family:
    name: str
    type: str
    help: str
    rows: list[tuple[str, int]] = field(default_factory=list)  # (label text, kind)


def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in kv.items()) + "}" if kv else ""


def _cpu_families() -> list[Family]:
    cpu = Family("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.")
    guest = Family("node_cpu_guest_seconds_total", "counter", "Seconds the CPUs spent in guests.")
    freq = Family("node_cpu_scaling_frequency_hertz", "gauge", "Current scaled CPU thread frequency.")
    for c in range(CPUS):
        cpu.rows += [(_labels(cpu=str(c), mode=m), CENTI_COUNTER) for m in CPU_MODES]
        guest.rows += [(_labels(cpu=str(c), mode=m), CONST) for m in ("nice", "user")]
        freq.rows.append((_labels(cpu=str(c)), GAUGE))
    return [cpu, guest, freq]


def _memory_families() -> list[Family]:
    return [
        Family(
            f"node_memory_{m}_bytes",
            "gauge",
            f"Memory information field {m}_bytes.",
            [("", GAUGE if m[0] in "ACDIMS" else CONST)],
        )
        for m in MEMORY
    ]


def _filesystem_families() -> list[Family]:
    out = []
    for field_name, kind in (
        ("avail_bytes", GAUGE),
        ("free_bytes", GAUGE),
        ("size_bytes", CONST),
        ("files", CONST),
        ("files_free", GAUGE),
        ("readonly", CONST),
        ("device_error", CONST),
    ):
        fam = Family(f"node_filesystem_{field_name}", "gauge", f"Filesystem {field_name}.")
        fam.rows = [(_labels(device=d, fstype=t, mountpoint=m), kind) for d, t, m in FILESYSTEMS]
        out.append(fam)
    return out


def _network_families() -> list[Family]:
    out = []
    for direction in ("receive", "transmit"):
        for counter in NET_COUNTERS:
            fam = Family(
                f"node_network_{direction}_{counter}_total",
                "counter",
                f"Network device statistic {direction}_{counter}.",
            )
            kind = COUNTER if counter in ("bytes", "packets") else CONST
            fam.rows = [(_labels(device=d), kind) for d in NET_DEVICES]
            out.append(fam)
    for gauge in ("mtu_bytes", "up", "speed_bytes", "transmit_queue_length", "carrier"):
        fam = Family(f"node_network_{gauge}", "gauge", f"Network device property {gauge}.")
        fam.rows = [(_labels(device=d), CONST) for d in NET_DEVICES]
        out.append(fam)
    return out


def _disk_families() -> list[Family]:
    out = []
    for counter in DISK_COUNTERS:
        fam = Family(f"node_disk_{counter}_total", "counter", f"Disk statistic {counter}.")
        kind = CENTI_COUNTER if counter.endswith("seconds") else COUNTER
        fam.rows = [(_labels(device=d), kind) for d in DISKS]
        out.append(fam)
    return out


def _misc_families() -> list[Family]:
    out = [Family(f"node_load{n}", "gauge", f"{n}m load average.", [("", DECIMAL_GAUGE)]) for n in (1, 5, 15)]
    out.append(Family("node_boot_time_seconds", "gauge", "Node boot time.", [("", CONST)]))
    out.append(Family("node_time_seconds", "gauge", "System time in seconds.", [("", DECIMAL_GAUGE)]))
    out.append(Family("node_context_switches_total", "counter", "Context switches.", [("", COUNTER)]))
    out.append(Family("node_forks_total", "counter", "Forks since boot.", [("", COUNTER)]))
    for collector_metric, kind in (("duration_seconds", NANO_GAUGE), ("success", CONST)):
        fam = Family(f"node_scrape_collector_{collector_metric}", "gauge", "Collector figures.")
        fam.rows = [(_labels(collector=c), kind) for c in COLLECTORS]
        out.append(fam)
    return out


def _interrupts(count: int) -> Family:
    fam = Family("node_interrupts_total", "counter", "Interrupt details.")
    irq = 0
    while len(fam.rows) < count:
        for c in range(CPUS):
            if len(fam.rows) < count:
                labels = _labels(cpu=str(c), devices=f"nvme0q{irq}", type=str(24 + irq))
                fam.rows.append((labels, COUNTER))
        irq += 1
    return fam


def families(series: int) -> list[Family]:
    """node_exporter-shaped metric families with exactly `series` series in total."""
    fams = (
        _cpu_families()
        + _memory_families()
        + _filesystem_families()
        + _network_families()
        + _disk_families()
        + _misc_families()
    )
    have = sum(len(f.rows) for f in fams)
    if have < series:
        fams.append(_interrupts(series - have))
        return fams
    out, left = [], series
    for fam in fams:
        if left <= 0:
            break
        out.append(Family(fam.name, fam.type, fam.help, fam.rows[:left]))
        left -= len(out[-1].rows)
    return out


SCALES = {CONST: 1, COUNTER: 1, CENTI_COUNTER: 100, GAUGE: 1, DECIMAL_GAUGE: 100, NANO_GAUGE: 10**9}


class Target:
    """One target's page: fixed text around the values, integer state updated once a second."""

    def __init__(self, index: int, fams: list[Family]) -> None:
        rng = np.random.default_rng(index)
        self.rng = rng
        self.pieces: list[str] = []  # text before each value (HELP/TYPE lines + name{labels} )
        kinds: list[int] = []
        for fam in fams:
            head = f"# HELP {fam.name} {fam.help}\n# TYPE {fam.name} {fam.type}\n"
            for i, (labels, kind) in enumerate(fam.rows):
                self.pieces.append(
                    ("\n" if self.pieces else "") + (head if i == 0 else "") + f"{fam.name}{labels} "
                )
                kinds.append(kind)
        self.kinds = np.array(kinds)
        self.scale = np.array([SCALES[k] for k in kinds], dtype=np.float64)
        self.units = rng.integers(10**6, 10**10, len(kinds)).astype(np.int64)
        self.units[self.kinds == CONST] %= 1000
        self.units[self.kinds == DECIMAL_GAUGE] %= 800
        self.rate = rng.integers(1, 5000, len(kinds)).astype(np.int64)
        self.rate[self.kinds == CENTI_COUNTER] %= 100
        self.second = 0
        self.plain = b""
        self.gzipped = b""

    def _step(self, dt: int) -> None:
        k, n = self.kinds, len(self.kinds)
        counters = (k == COUNTER) | (k == CENTI_COUNTER)
        jitter = self.rng.integers(0, 3, n)
        self.units[counters] += (self.rate[counters] * dt * jitter[counters]) // 2
        gauges = k == GAUGE
        self.units[gauges] += 4096 * self.rng.integers(-50, 51, int(gauges.sum()))
        dec = k == DECIMAL_GAUGE
        self.units[dec] = np.abs(self.units[dec] + self.rng.integers(-20, 21, int(dec.sum())))
        nano = k == NANO_GAUGE
        self.units[nano] = self.rng.integers(10**4, 10**8, int(nano.sum()))

    def page(self, gzip_ok: bool) -> bytes:
        now = int(time.time())
        if now != self.second:
            if self.second:
                self._step(now - self.second)
            self.second = now
            values = (self.units / self.scale).tolist()
            text = "".join([p + repr(v) for p, v in zip(self.pieces, values, strict=True)]) + "\n"
            self.plain = text.encode()
            self.gzipped = b""
        if gzip_ok:
            if not self.gzipped:
                self.gzipped = gzip.compress(self.plain, compresslevel=1)
            return self.gzipped
        return self.plain


async def serve(n_targets: int, series: int, ports_file: Path) -> None:
    fams = families(series)
    targets = [Target(i, fams) for i in range(n_targets)]
    by_port: dict[int, Target] = {}

    async def metrics(request: web.Request) -> web.Response:
        target = by_port[request.transport.get_extra_info("sockname")[1]]  # type: ignore[union-attr]
        gz = "gzip" in request.headers.get("Accept-Encoding", "")
        headers = {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
        if gz:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=target.page(gz), headers=headers)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    for target in targets:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=256)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        by_port[port] = target
    tmp = ports_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(list(by_port)))
    tmp.rename(ports_file)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--ports-file", type=Path, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.targets, args.series, args.ports_file))


if __name__ == "__main__":
    main()
