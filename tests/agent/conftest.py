"""Fixtures for the agent tests: a fake Loki push endpoint decoding with protobuf descriptors."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fakeloki import FakeLoki


@pytest.fixture
async def loki() -> AsyncIterator[FakeLoki]:
    """A fake Loki on 127.0.0.1 (random port) recording every pushed line."""
    fake = FakeLoki()
    await fake.start()
    yield fake
    await fake.stop()
