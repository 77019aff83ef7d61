"""Fixtures: a live app with the OTLP receiver on a real TSDB in tmp_path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pushgateway"))

from live_server import LiveServer, make_runtime

from pharos.metrics import otlp


@pytest.fixture
def otlp_server(tmp_path: Path) -> Iterator[tuple[LiveServer, SimpleNamespace]]:
    runtime = make_runtime(tmp_path / "data")
    app = FastAPI()
    otlp.register(app, runtime)
    server = LiveServer(app)
    yield server, runtime
    server.stop()
    runtime.tsdb.close()
