"""Host metrics under node_exporter's names, container metrics under cAdvisor's.

Host series come from /proc, /sys and statfs with the label sets and default
exclusions of Debian's ``prometheus-node-exporter`` (1.5): filesystems from
``/proc/1/mounts`` minus ``^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|
var/lib/containers/storage/.+)($|/)`` and pseudo file systems; network devices
minus ``lo``; disks minus ``ram``/``loop``/partitions. Container series come from
cgroup v2 (``cpu.stat``, ``memory.current``, ``memory.stat``, ``io.stat``) of
kubepods scopes, labelled with namespace, pod and container when known.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pharos.metrics.exposition.writer import Exposition

MOUNT_EXCLUDE = re.compile(r"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
FSTYPE_EXCLUDE = re.compile(
    r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|"
    r"nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$"
)
NETDEV_EXCLUDE = re.compile(r"^lo$")
DISK_EXCLUDE = re.compile(r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
NET_RX = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
NET_TX = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
# /proc/diskstats column (after the name) -> (metric, scale); None scale: a gauge
DISK_FIELDS: tuple[tuple[int, str, float], ...] = (
    (0, "node_disk_reads_completed_total", 1),
    (1, "node_disk_reads_merged_total", 1),
    (2, "node_disk_read_bytes_total", 512),
    (3, "node_disk_read_time_seconds_total", 0.001),
    (4, "node_disk_writes_completed_total", 1),
    (5, "node_disk_writes_merged_total", 1),
    (6, "node_disk_written_bytes_total", 512),
    (7, "node_disk_write_time_seconds_total", 0.001),
    (8, "node_disk_io_now", 1),
    (9, "node_disk_io_time_seconds_total", 0.001),
    (10, "node_disk_io_time_weighted_seconds_total", 0.001),
    (11, "node_disk_discards_completed_total", 1),
    (12, "node_disk_discards_merged_total", 1),
    (13, "node_disk_discarded_sectors_total", 1),
    (14, "node_disk_discard_time_seconds_total", 0.001),
    (15, "node_disk_flush_requests_total", 1),
    (16, "node_disk_flush_requests_time_seconds_total", 0.001),
)
_CONTAINER_SCOPE = re.compile(r"(?:cri-containerd-|docker-|crio-)?([0-9a-f]{64})(?:\.scope)?$")


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


@dataclass
class NodeCollector:
    """Reads host and container metrics (roots are configurable for tests and containers)."""

    proc: Path = Path("/proc")
    sys: Path = Path("/sys")
    rootfs: Path = Path("/")
    cgroup: Path = Path("/sys/fs/cgroup")
    containers: Callable[[], dict[str, tuple[str, str, str]]] = dict  # container id -> (ns, pod, container)

    def collect(self, exp: Exposition) -> None:
        """Every collector; one failing does not stop the others."""
        for fn in (self.cpu, self.stat, self.memory, self.load, self.filesystems, self.network, self.disks,
                   self.uname, self.cgroups):
            try:
                fn(exp)
            except (OSError, ValueError, IndexError):
                continue
        exp.add("node_time_seconds", "gauge", "System time in seconds since epoch (1970).", time.time())

    def cpu(self, exp: Exposition) -> None:
        """node_cpu_seconds_total{cpu,mode} and node_cpu_guest_seconds_total."""
        hz = os.sysconf("SC_CLK_TCK")
        for line in _read(self.proc / "stat").splitlines():
            if not line.startswith("cpu") or line.startswith("cpu "):
                continue
            parts = line.split()
            cpu = parts[0][3:]
            vals = [int(x) / hz for x in parts[1:]]
            for mode, v in zip(CPU_MODES, vals, strict=False):
                exp.add("node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.", v,
                        {"cpu": cpu, "mode": mode})
            if len(vals) >= 10:
                for mode, v in (("nice", vals[9]), ("user", vals[8])):
                    exp.add("node_cpu_guest_seconds_total", "counter",
                            "Seconds the CPUs spent in guests (VMs) for each mode.", v, {"cpu": cpu, "mode": mode})

    def stat(self, exp: Exposition) -> None:
        """Boot time, context switches, forks, interrupts, running/blocked processes."""
        names = {
            "btime": ("node_boot_time_seconds", "gauge", "Node boot time, in unixtime."),
            "ctxt": ("node_context_switches_total", "counter", "Total number of context switches."),
            "processes": ("node_forks_total", "counter", "Total number of forks."),
            "intr": ("node_intr_total", "counter", "Total number of interrupts serviced."),
            "procs_running": ("node_procs_running", "gauge", "Number of processes in runnable state."),
            "procs_blocked": ("node_procs_blocked", "gauge", "Number of processes blocked waiting for I/O to complete."),
        }
        for line in _read(self.proc / "stat").splitlines():
            parts = line.split(maxsplit=2)
            spec = names.get(parts[0]) if parts else None
            if spec is not None:
                exp.add(spec[0], spec[1], spec[2], float(parts[1]))

    def memory(self, exp: Exposition) -> None:
        """node_memory_<Field>[_bytes] from /proc/meminfo."""
        for line in _read(self.proc / "meminfo").splitlines():
            key, _, rest = line.partition(":")
            fields = rest.split()
            if not fields:
                continue
            name = "node_memory_" + key.replace("(", "_").replace(")", "")
            value = float(fields[0])
            if len(fields) > 1 and fields[1] == "kB":
                name += "_bytes"
                value *= 1024
            exp.add(name, "gauge", f"Memory information field {key.replace('(', '_').replace(')', '')}.", value)

    def load(self, exp: Exposition) -> None:
        """node_load1/5/15."""
        parts = _read(self.proc / "loadavg").split()
        for name, v in zip(("node_load1", "node_load5", "node_load15"), parts[:3], strict=False):
            exp.add(name, "gauge", f"{name[9:]}m load average.", float(v))

    def _mounts(self) -> Iterable[tuple[str, str, str, str]]:
        text = _read(self.proc / "1" / "mounts") or _read(self.proc / "self" / "mounts")
        seen: set[tuple[str, str, str]] = set()
        for line in text.splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            device, mountpoint, fstype, opts = (
                parts[0], parts[1].replace("\\040", " ").replace("\\011", "\t"), parts[2], parts[3]
            )
            if MOUNT_EXCLUDE.match(mountpoint) or FSTYPE_EXCLUDE.match(fstype):
                continue
            if (device, mountpoint, fstype) in seen:
                continue
            seen.add((device, mountpoint, fstype))
            yield device, mountpoint, fstype, opts

    def filesystems(self, exp: Exposition) -> None:
        """node_filesystem_* {device,fstype,mountpoint}."""
        for device, mountpoint, fstype, opts in self._mounts():
            labels = {"device": device, "fstype": fstype, "mountpoint": mountpoint}
            path = self.rootfs / mountpoint.lstrip("/")
            try:
                st = os.statvfs(path)
            except OSError:
                exp.add("node_filesystem_device_error", "gauge", "Whether an error occurred while getting statistics for the given device.", 1, labels)
                continue
            exp.add("node_filesystem_avail_bytes", "gauge", "Filesystem space available to non-root users in bytes.", st.f_bavail * st.f_bsize, labels)
            exp.add("node_filesystem_device_error", "gauge", "Whether an error occurred while getting statistics for the given device.", 0, labels)
            exp.add("node_filesystem_files", "gauge", "Filesystem total file nodes.", st.f_files, labels)
            exp.add("node_filesystem_files_free", "gauge", "Filesystem total free file nodes.", st.f_ffree, labels)
            exp.add("node_filesystem_free_bytes", "gauge", "Filesystem free space in bytes.", st.f_bfree * st.f_bsize, labels)
            exp.add("node_filesystem_readonly", "gauge", "Filesystem read-only status.", 1 if "ro" in opts.split(",") else 0, labels)
            exp.add("node_filesystem_size_bytes", "gauge", "Filesystem size in bytes.", st.f_blocks * st.f_bsize, labels)

    def network(self, exp: Exposition) -> None:
        """node_network_{receive,transmit}_*_total{device} from /proc/net/dev."""
        for line in _read(self.proc / "net" / "dev").splitlines()[2:]:
            name, _, rest = line.partition(":")
            device = name.strip()
            if NETDEV_EXCLUDE.match(device):
                continue
            vals = rest.split()
            for i, f in enumerate(NET_RX):
                exp.add(f"node_network_receive_{f}_total", "counter", f"Network device statistic receive_{f}.", float(vals[i]), {"device": device})
            for i, f in enumerate(NET_TX):
                exp.add(f"node_network_transmit_{f}_total", "counter", f"Network device statistic transmit_{f}.", float(vals[8 + i]), {"device": device})

    def disks(self, exp: Exposition) -> None:
        """node_disk_*{device} from /proc/diskstats."""
        for line in _read(self.proc / "diskstats").splitlines():
            parts = line.split()
            if len(parts) < 14 or DISK_EXCLUDE.match(parts[2]):
                continue
            vals = parts[3:]
            for idx, name, scale in DISK_FIELDS:
                if idx < len(vals):
                    kind = "gauge" if name == "node_disk_io_now" else "counter"
                    exp.add(name, kind, f"Disk statistic {name[10:]}.", float(vals[idx]) * scale, {"device": parts[2]})

    def uname(self, exp: Exposition) -> None:
        """node_uname_info."""
        u = os.uname()
        domain = _read(self.proc / "sys" / "kernel" / "domainname").strip()
        exp.add("node_uname_info", "gauge", "Labeled system information as provided by the uname system call.", 1, {
            "domainname": domain, "machine": u.machine, "nodename": u.nodename,
            "release": u.release, "sysname": u.sysname, "version": u.version,
        })

    # -- containers (cgroup v2) --------------------------------------------------------------

    def cgroups(self, exp: Exposition) -> None:
        """container_* series for every kubepods container scope under the cgroup v2 root."""
        if not (self.cgroup / "cgroup.controllers").exists():
            return
        names = self.containers()
        for base in ("kubepods.slice", "kubepods"):
            root = self.cgroup / base
            if root.is_dir():
                for dirpath, _dirs, _files in os.walk(root):
                    m = _CONTAINER_SCOPE.search(os.path.basename(dirpath))
                    if m:
                        self._container(exp, Path(dirpath), m.group(1), names.get(m.group(1)))

    def _container(self, exp: Exposition, path: Path, cid: str, who: tuple[str, str, str] | None) -> None:
        labels = {"id": "/" + str(path.relative_to(self.cgroup))}
        if who is not None:
            labels.update(namespace=who[0], pod=who[1], container=who[2])
        cpu = _kv(_read(path / "cpu.stat"))
        if "usage_usec" in cpu:
            exp.add("container_cpu_usage_seconds_total", "counter", "Cumulative cpu time consumed in seconds.", cpu["usage_usec"] / 1e6, labels)
            exp.add("container_cpu_user_seconds_total", "counter", "Cumulative user cpu time consumed in seconds.", cpu.get("user_usec", 0) / 1e6, labels)
            exp.add("container_cpu_system_seconds_total", "counter", "Cumulative system cpu time consumed in seconds.", cpu.get("system_usec", 0) / 1e6, labels)
            exp.add("container_cpu_cfs_throttled_periods_total", "counter", "Number of throttled period intervals.", cpu.get("nr_throttled", 0), labels)
        current = _read(path / "memory.current").strip()
        if current:
            mem = _kv(_read(path / "memory.stat"))
            usage = float(current)
            exp.add("container_memory_usage_bytes", "gauge", "Current memory usage in bytes, including all memory regardless of when it was accessed", usage, labels)
            exp.add("container_memory_working_set_bytes", "gauge", "Current working set in bytes.", max(0.0, usage - mem.get("inactive_file", 0)), labels)
            exp.add("container_memory_rss", "gauge", "Size of RSS in bytes.", mem.get("anon", 0), labels)
            exp.add("container_memory_cache", "gauge", "Number of bytes of page cache memory.", mem.get("file", 0), labels)
        io = _read(path / "io.stat")
        if io:
            rbytes = wbytes = 0.0
            for line in io.splitlines():
                kv = _kv(line.replace(" ", "\n").replace("=", " "))
                rbytes += kv.get("rbytes", 0)
                wbytes += kv.get("wbytes", 0)
            exp.add("container_fs_reads_bytes_total", "counter", "Cumulative count of bytes read", rbytes, labels)
            exp.add("container_fs_writes_bytes_total", "counter", "Cumulative count of bytes written", wbytes, labels)


def _kv(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                continue
    return out
