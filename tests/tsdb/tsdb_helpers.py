"""Helpers shared by the TSDB tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pharos.metrics.model import Labels, Matcher, MatchOp, make_labels
from pharos.metrics.tsdb.db import TSDB, TSDBOptions

HOUR = 3600 * 1000


def lbl(name: str, **labels: str) -> Labels:
    return make_labels({"__name__": name, **labels})


def eq(name: str, value: str) -> Matcher:
    return Matcher(name, MatchOp.EQUAL, value)


def bits(values: np.ndarray) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.uint64).tolist()


def open_db(path: Path, **opts: int | float) -> TSDB:
    db = TSDB(path, TSDBOptions(**opts))  # type: ignore[arg-type]
    db.open()
    return db


def read_all(db: TSDB) -> dict[Labels, tuple[list[int], list[int]]]:
    """Every series' (timestamps, value bits), read through select."""
    out = {}
    for s in db.select([Matcher("__name__", MatchOp.REGEX, ".+")], -(2**62), 2**62):
        out[s.labels] = (s.timestamps.tolist(), bits(s.values))
    return out
