"""Fixtures: a log store in tmp_path and the Loki router served on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from loghelp import Server, serve

from pharos.storage.logs import LogStore, StoreOptions


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LogStore]:
    s = LogStore(tmp_path / "logs", StoreOptions(fsync_interval_s=0.2))
    s.open()
    yield s
    s.close()


@pytest.fixture
def server(store: LogStore) -> Iterator[Server]:
    yield from serve(store)
