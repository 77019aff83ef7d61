"""Fixtures: a live app serving /federate from a real TSDB in tmp_path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pushgateway"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "remote"))

from live_server import LiveServer, make_runtime

from pharos.metrics import federate

CONFIG = "global:\n  scrape_interval: 15s\n  external_labels: {region: eu, job: ignored-when-present}\n"


@pytest.fixture
def fed(tmp_path: Path) -> Iterator[tuple[LiveServer, SimpleNamespace]]:
    runtime = make_runtime(tmp_path / "data", CONFIG)
    app = FastAPI()
    federate.register(app, runtime)
    server = LiveServer(app)
    yield server, runtime
    server.stop()
    runtime.tsdb.close()
