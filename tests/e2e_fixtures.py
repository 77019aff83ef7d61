"""The end-to-end tests' `procs` fixture over benchmarks/e2e_harness (put on the import path
here): a registry of started processes, every one stopped in teardown."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from e2e_harness import Procs


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Procs]:
    """Processes started through this registry are stopped after the test."""
    registry = Procs(tmp_path / "logs")
    try:
        yield registry
    finally:
        registry.stop_all()
