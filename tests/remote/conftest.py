"""Fixtures: a live app with the remote-write receiver and remote read on a real TSDB."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pushgateway"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from remote_helpers import Live, start_live, stop_live


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    lv = start_live(tmp_path / "data")
    yield lv
    stop_live(lv)
