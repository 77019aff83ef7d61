"""Every listener binds 127.0.0.1 unless told otherwise: `pharos server`, `pharos up` (whose
embedded agent opens no socket of its own) and `pharos agent`, each with its defaults, inside a
fresh network namespace where theirs are the only sockets."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def listeners(tmp_path: Path, *commands: list[str]) -> set[tuple[str, int]]:
    """The TCP sockets listening once `commands` run with their default --listen."""
    env = {"PYTHONPATH": f"{HERE}:{HERE.parent / 'server'}", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run(
        [
            "unshare",
            "-n",
            sys.executable,
            str(HERE / "netns_listeners.py"),
            str(tmp_path),
            json.dumps(commands),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return {tuple(json.loads(line)) for line in done.stdout.splitlines()}  # type: ignore[misc]


def test_server_and_agent_bind_loopback_by_default(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    agent = ["agent", "--logs", str(logs / "*.log"), "--positions", str(tmp_path / "positions.db")]
    found = listeners(tmp_path, ["server", "--data-dir", str(tmp_path / "server")], agent)
    assert found == {("127.0.0.1", 9494), ("127.0.0.1", 9495)}


def test_up_binds_one_loopback_port(tmp_path: Path) -> None:
    assert listeners(tmp_path, ["up", "--data-dir", str(tmp_path / "up")]) == {("127.0.0.1", 9494)}
