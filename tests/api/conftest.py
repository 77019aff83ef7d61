"""In-process API fixtures: the real app and TSDB on a tmp data dir, samples appended directly,
and a stand-in scrape manager with fixed targets and metadata (see api_fixtures)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from api_fixtures import CONFIG, FakeScrape

from pharos.config.loader import parse_config
from pharos.server.app import create_app
from pharos.server.options import ServerOptions
from pharos.server.runtime import Runtime


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    opts = ServerOptions(data_dir=tmp_path / "data", port=9494, config_file=tmp_path / "pharos.yml")
    return Runtime(opts, parse_config(CONFIG, filename=str(tmp_path / "pharos.yml")))


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """A client of the real app, ready, with the fake scrape manager in place."""
    with TestClient(create_app(runtime)) as test_client:
        deadline = time.monotonic() + 30
        while not runtime.is_ready():
            assert runtime.startup_error is None, runtime.startup_error
            assert time.monotonic() < deadline, "TSDB did not open"
            time.sleep(0.02)
        runtime.scrape = FakeScrape()  # type: ignore[assignment]
        yield test_client
