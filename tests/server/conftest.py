"""Fixtures for the server tests: a real pharos subprocess, stopped in teardown."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pharos_testproc import PharosProcess


@pytest.fixture
def start_pharos(tmp_path: Path) -> Iterator[Callable[..., PharosProcess]]:
    """Factory: start_pharos("server", "--config", path) -> a ready PharosProcess."""
    started: list[PharosProcess] = []

    def start(
        command: str = "server", *args: str, ready: bool = True, port: int | None = None, **kw: Path
    ) -> PharosProcess:
        proc = PharosProcess(tmp_path, command, args, port=port, **kw)
        started.append(proc)
        if ready:
            proc.wait_ready()
        return proc

    yield start
    for proc in started:
        proc.stop()
