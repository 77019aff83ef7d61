"""Start `pharos` as a real subprocess on a free 127.0.0.1 port with its own data directory.

Shared by tests/server, tests/api and tests/cli (they put this directory on sys.path).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

PHAROS = Path(sys.executable).parent / "pharos"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pharos_cmd(*args: str) -> list[str]:
    """argv for the console script, or `python -m pharos.cli` when it is not installed."""
    head = [str(PHAROS)] if PHAROS.exists() else [sys.executable, "-m", "pharos.cli"]
    return [*head, *args]


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a short pharos command to completion."""
    return subprocess.run(pharos_cmd(*args), capture_output=True, text=True, cwd=cwd, timeout=timeout)


class PharosProcess:
    """A running `pharos server|up`; `stop()` sends SIGTERM and returns the exit code."""

    def __init__(
        self,
        workdir: Path,
        command: str = "server",
        args: Sequence[str] = (),
        *,
        port: int | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or workdir / "data"
        self.log_path = workdir / f"pharos-{self.port}-{time.monotonic_ns()}.log"
        dir_args = [] if "--data-dir" in args else ["--data-dir", str(self.data_dir)]
        argv = pharos_cmd(command, "--listen", f"127.0.0.1:{self.port}", *dir_args, *args)
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            argv, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def log(self) -> str:
        """Everything the process wrote so far."""
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        """Poll /-/ready until 200; fail with the log when the process dies or never gets ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"pharos exited with {self.popen.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if self.client.get("/-/ready").status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError(f"pharos not ready after {timeout}s:\n{self.log()}")

    def send(self, sig: int) -> None:
        """Send `sig` to the process."""
        os.kill(self.popen.pid, sig)

    def wait_exit(self, timeout: float = 30) -> int:
        """The exit code once the process ends."""
        return self.popen.wait(timeout=timeout)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """SIGTERM (or `sig`), wait, return the exit code; kill the group if it hangs."""
        if self.popen.poll() is None:
            self.send(sig)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self.client.close()
        self._log.close()
        return self.popen.returncode


def wait_for(predicate, timeout: float = 30, interval: float = 0.2, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll `predicate()` until it is truthy (no timing assertion: only a generous upper bound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")
