"""Fixtures for the Kubernetes tests: a fake API server (see fakekube.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakekube import FakeKube


@pytest.fixture
async def kube() -> AsyncIterator[FakeKube]:
    """A fake Kubernetes API on 127.0.0.1 (random port)."""
    fake = FakeKube()
    await fake.start()
    yield fake
    await fake.stop()
