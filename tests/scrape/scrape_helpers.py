"""Helpers shared by the scrape tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

from pharos.config.model import PharosConfig
from pharos.metrics.model import STALE_NAN_BITS, Labels, Matcher, MatchOp
from pharos.metrics.scrape.loop import ScrapeLoop
from pharos.metrics.scrape.manager import ScrapeManager
from pharos.metrics.tsdb.db import TSDB

HOUR = 3600.0


def config(*jobs: dict[str, Any], **glob: Any) -> PharosConfig:
    """A PharosConfig with long intervals by default (tests drive scrapes by hand)."""
    glob = {"scrape_interval": HOUR, "scrape_timeout": 5.0, **glob}
    return PharosConfig.model_validate({"global": glob, "scrape_configs": list(jobs)})


def job(name: str, *addresses: str, **kw: Any) -> dict[str, Any]:
    return {"job_name": name, "static_configs": [{"targets": list(addresses)}], **kw}


def loops(manager: ScrapeManager) -> list[ScrapeLoop]:
    return [lp for pool in manager.pools.values() for lp in pool.loops.values()]


def only_loop(manager: ScrapeManager) -> ScrapeLoop:
    (lp,) = loops(manager)
    return lp


def series(tsdb: TSDB, name: str, **labels: str) -> dict[Labels, list[tuple[int, float]]]:
    """Every series named `name` (with the given labels) -> [(ts, value)]."""
    matchers = [Matcher("__name__", MatchOp.EQUAL, name)]
    matchers += [Matcher(k, MatchOp.EQUAL, v) for k, v in labels.items()]
    out = {}
    for s in tsdb.select(matchers, -(2**62), 2**62):
        out[s.labels] = list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
    return out


def points(tsdb: TSDB, name: str, **labels: str) -> list[tuple[int, float]]:
    """The samples of the one series named `name` (with the given labels)."""
    found = series(tsdb, name, **labels)
    assert len(found) == 1, f"expected one {name} series, got {list(found)}"
    return next(iter(found.values()))


def is_stale(value: float) -> bool:
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS


def value_bits(values: np.ndarray) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.uint64).tolist()
