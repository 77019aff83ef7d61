"""Fixtures for the crash test: a registry of started processes, stopped in teardown."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from e2e_harness import Procs


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    registry = Procs(tmp_path / "logs")
    try:
        yield registry
    finally:
        registry.stop_all()
