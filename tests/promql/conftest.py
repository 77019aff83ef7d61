"""Fixtures for the PromQL tests."""

from __future__ import annotations

import numpy as np
import pytest

from pharos.metrics.model import make_labels
from pharos.metrics.promql.memory import MemoryQuerier


@pytest.fixture
def store() -> MemoryQuerier:
    """Two counters and a gauge sampled every 15 s for an hour."""
    q = MemoryQuerier()
    ts = np.arange(0, 3_600_000, 15_000, dtype=np.int64)
    q.add(make_labels({"__name__": "req_total", "job": "a"}), ts, np.arange(len(ts)) * 2.0)
    q.add(make_labels({"__name__": "req_total", "job": "b"}), ts, np.arange(len(ts)) * 3.0)
    q.add(make_labels({"__name__": "temp", "job": "a"}), ts, np.sin(np.arange(len(ts))))
    return q
