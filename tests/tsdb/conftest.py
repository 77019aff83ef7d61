"""Fixtures for the TSDB tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tsdb_helpers import open_db

from pharos.metrics.tsdb.db import TSDB


@pytest.fixture
def db(tmp_path: Path) -> Iterator[TSDB]:
    d = open_db(tmp_path / "data")
    yield d
    d.close()
