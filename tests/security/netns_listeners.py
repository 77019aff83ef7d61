"""Run inside a fresh network namespace (`unshare -n python netns_listeners.py WORKDIR JSON`):
bring loopback up, start the pharos commands of JSON (a list of argv lists, none with
--listen), wait until each answers /-/ready on its default port, print the namespace's
listening TCP sockets as JSON lines of [address, port], then stop the commands.

The namespace holds nothing else, so every listener printed belongs to those commands."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from pharos_testproc import pharos_cmd

DEFAULT_PORTS = {"up": 9494, "server": 9494, "agent": 9495}


def listening() -> list[tuple[str, int]]:
    """(address, port) of every TCP socket in LISTEN state, IPv4 and IPv6."""
    out = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            if state != "0A":
                continue
            addr_hex, port_hex = local.split(":")
            raw = bytes.fromhex(addr_hex)
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # /proc is host order
            out.append((socket.inet_ntop(family, raw), int(port_hex, 16)))
    return out


def wait_ready(port: int, procs: list[subprocess.Popen[bytes]]) -> None:
    """Poll /-/ready on 127.0.0.1:`port` until 200 (fail if a command exits)."""
    deadline = time.monotonic() + 60
    with httpx.Client(trust_env=False, timeout=5) as client:
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in procs):
                sys.exit("a pharos command exited early")
            try:
                if client.get(f"http://127.0.0.1:{port}/-/ready").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
    sys.exit(f"nothing ready on port {port}")


def main() -> None:
    """Start, wait, report, stop."""
    workdir, commands = Path(sys.argv[1]), json.loads(sys.argv[2])
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    procs = [
        subprocess.Popen(pharos_cmd(*argv), cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for argv in commands
    ]
    try:
        for argv in commands:
            wait_ready(DEFAULT_PORTS[argv[0]], procs)
        for address, port in listening():
            print(json.dumps([address, port]))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


if __name__ == "__main__":
    main()
