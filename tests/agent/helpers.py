"""Shared helpers for the agent tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from pharos.agent import Agent, AgentOptions
from pharos.agent.formats import format_rfc3339_ns


async def wait_for(cond: Callable[[], bool], timeout: float = 20.0, what: str = "condition") -> None:
    """Poll ``cond`` until true; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def cri(text: str, stream: str = "stdout") -> str:
    """One CRI line (with newline)."""
    return f"{format_rfc3339_ns(time.time_ns())} {stream} F {text}\n"


def append_lines(path: Path, prefix: str, start: int, count: int) -> None:
    """Append CRI lines ``<prefix>-<n>`` for n in [start, start+count)."""
    with path.open("a") as f:
        f.write("".join(cri(f"{prefix}-{n}") for n in range(start, start + count)))


def options(tmp_path: Path, url: str, **kw) -> AgentOptions:
    """Fast-moving agent options for tests (no listener, no Kubernetes)."""
    base = dict(
        listen=None, logs=[str(tmp_path / "logs" / "*.log")], push_url=url, positions=tmp_path / "state" / "pos.db",
        batch_wait=0.1, min_backoff=0.02, max_backoff=0.2, kubernetes=False, flush_timeout=0.2,
        poll_interval=0.02, scan_interval=0.1, metrics_enabled=False,
    )
    base.update(kw)
    return AgentOptions(**base)


async def started(opts: AgentOptions) -> Agent:
    agent = Agent(opts)
    await agent.start()
    return agent
