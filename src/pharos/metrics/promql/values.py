"""Value types of the vectorised PromQL engine and the errors it raises.

Every instant-vector value is held over the whole evaluation grid at once: an (n_series, n_steps)
matrix of floats plus a presence mask, so operators and functions are numpy expressions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pharos.metrics.model import STALE_NAN_BITS, Labels, Matcher
from pharos.metrics.tsdb.db import SeriesData


class Querier(Protocol):
    """The narrow storage interface the engine reads through."""

    def select(self, matchers: Sequence[Matcher], mint_ms: int, maxt_ms: int) -> list[SeriesData]:
        """Series matching every matcher, with their samples in [mint_ms, maxt_ms]."""
        ...


class PromQLError(Exception):
    """A query error; `error_type` is the Prometheus API errorType."""

    error_type = "execution"


class BadDataError(PromQLError):
    """The query or its parameters are invalid (HTTP 400)."""

    error_type = "bad_data"


class QueryTimeoutError(PromQLError):
    """The query ran longer than its timeout (HTTP 503)."""

    error_type = "timeout"


class TooManySamplesError(PromQLError):
    """The query would load more samples than allowed (HTTP 422)."""

    error_type = "execution"


@dataclass
class Vector:
    """An instant vector evaluated at every step of a grid."""

    labels: list[Labels]
    values: np.ndarray  # (n, T) float64
    present: np.ndarray  # (n, T) bool
    drop_name: np.ndarray  # (n,) bool: __name__ to be removed at the end (delayed removal)
    sample_ts: np.ndarray | None = None  # (n, T) int64 sample times, set by plain selectors

    @property
    def n(self) -> int:
        return len(self.labels)

    @staticmethod
    def empty(steps: int) -> Vector:
        return Vector([], np.zeros((0, steps)), np.zeros((0, steps), bool), np.zeros(0, bool))

    def take(self, rows: np.ndarray | list[int]) -> Vector:
        """The sub-vector of the given rows."""
        idx = np.asarray(rows, dtype=np.int64)
        return Vector([self.labels[i] for i in idx], self.values[idx], self.present[idx], self.drop_name[idx])

    def compact(self) -> Vector:
        """Drop series that are absent at every step."""
        keep = np.flatnonzero(self.present.any(axis=1))
        return self if len(keep) == self.n else self.take(keep)


@dataclass
class Scalar:
    """A scalar per step."""

    values: np.ndarray  # (T,)


@dataclass
class String:
    """A string literal."""

    value: str


@dataclass
class RangeData:
    """A range vector: flat samples of n series and, per step, the window (end - range, end]."""

    labels: list[Labels]
    ts: np.ndarray  # flat int64 timestamps, ascending within each series
    vals: np.ndarray  # flat float64 values
    offsets: np.ndarray  # (n+1,) int64 series boundaries in the flat arrays
    ends: np.ndarray  # (T,) int64 window end time per step
    range_ms: int
    drop_name: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def n(self) -> int:
        return len(self.labels)


Value = Vector | Scalar | String | RangeData


def stale_mask(vals: np.ndarray) -> np.ndarray:
    """True where a value is the staleness-marker NaN."""
    return vals.view(np.uint64) == np.uint64(STALE_NAN_BITS)


def type_name(v: Value) -> str:
    """Prometheus's name for a value's type."""
    if isinstance(v, Vector):
        return "vector"
    if isinstance(v, Scalar):
        return "scalar"
    if isinstance(v, String):
        return "string"
    return "matrix"
