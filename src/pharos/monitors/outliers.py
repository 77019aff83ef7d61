"""Outlier members of a group of series: `dbscan`, `scaled_dbscan`, `mad`, `scaled_mad`.

Input is an (n_series, T) array of a group observed over the same points (NaN = missing); the
answer is, per series, whether it is an outlier over that span.

* `mad` — per point, the group median and median absolute deviation; a point is outlying when it
  is more than `tolerance` MADs from the median; a series is an outlier when more than `pct`
  percent of its points are.
* `dbscan` — each series is a vector of its points; distances to the group's median series set
  eps = `tolerance` x their median; DBSCAN (scikit-learn) clusters the series and every series
  outside the largest cluster is an outlier.
* `scaled_*` — the same after scaling each point by the group's spread at that point (so series
  with different magnitudes over time are compared fairly).
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import DBSCAN

from pharos.monitors import rolling as rl

ALGORITHMS = ("dbscan", "scaled_dbscan", "mad", "scaled_mad")
DEFAULT_TOLERANCE = {"dbscan": 3.0, "scaled_dbscan": 3.0, "mad": 3.0, "scaled_mad": 3.0}
DEFAULT_PCT = 20.0


def outliers(
    values: np.ndarray, algorithm: str = "dbscan", tolerance: float | None = None, pct: float = DEFAULT_PCT
) -> np.ndarray:
    """A boolean per series: True for the group's outliers."""
    x = rl.as_2d(values)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown outlier algorithm {algorithm!r} ({', '.join(ALGORITHMS)})")
    tol = DEFAULT_TOLERANCE[algorithm] if tolerance is None else float(tolerance)
    if len(x) < 3:
        return np.zeros(len(x), bool)
    if algorithm.startswith("scaled_"):
        x = _scaled(x)
    if algorithm.endswith("mad"):
        return _mad(x, tol, pct)
    return _dbscan(x, tol)


def _scaled(x: np.ndarray) -> np.ndarray:
    """Centre every point on the group median and divide by the group's IQR there."""
    with rl.quiet():
        med = np.nanmedian(x, axis=0)
        q75, q25 = np.nanpercentile(x, [75, 25], axis=0)
    spread = np.where(q75 - q25 > 0, q75 - q25, 1.0)
    return (x - med) / spread


def outlying_points(x: np.ndarray, tolerance: float) -> np.ndarray:
    """Per point, True where a series is more than `tolerance` MADs from the group median."""
    with rl.quiet():
        med = np.nanmedian(x, axis=0)
        mad = np.nanmedian(np.abs(x - med), axis=0) * 1.4826
    floor = 1e-9 + 1e-6 * np.abs(med)
    return np.abs(x - med) > tolerance * np.maximum(np.nan_to_num(mad), floor)


def _mad(x: np.ndarray, tolerance: float, pct: float) -> np.ndarray:
    out = outlying_points(x, tolerance)
    seen = np.maximum(np.isfinite(x).sum(axis=1), 1)
    return out.sum(axis=1) * 100.0 / seen > pct


def _dbscan(x: np.ndarray, tolerance: float) -> np.ndarray:
    with rl.quiet():
        med = np.nanmedian(x, axis=0)
    filled = np.where(np.isnan(x), med, x)
    filled = np.nan_to_num(filled)
    dist = np.sqrt(((filled - np.nan_to_num(med)) ** 2).mean(axis=1))
    eps = tolerance * float(np.median(dist))
    if eps <= 0:
        return dist > 0
    labels = DBSCAN(eps=eps, min_samples=max(2, len(x) // 4)).fit_predict(filled / np.sqrt(x.shape[1]))
    clustered = labels[labels >= 0]
    if not len(clustered):
        return np.zeros(len(x), bool)
    main = np.bincount(clustered).argmax()
    return labels != main
