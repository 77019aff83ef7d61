"""Fixtures: a live pharos Pushgateway on 127.0.0.1 with a real TSDB in tmp_path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pgw_helpers import Pgw, start_pgw, stop_pgw


@pytest.fixture
def pgw(tmp_path: Path) -> Iterator[Pgw]:
    p = start_pgw(tmp_path / "data")
    yield p
    stop_pgw(p)
