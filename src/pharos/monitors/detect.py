"""Anomaly detectors for streaming scores in [0, 1] (the form NAB scores), built on the bands.

`contextual` is different: its score is the contextual novelty of the point (`contextual.py`),
silenced for `rest` points after a new pattern, as CAD OSE does.

A detector turns an algorithm's band score (deviation in band half-widths) into a probability-like
score and damps repeats: a point scores high only when it is more anomalous than anything in the
recent past, so one incident yields one detection rather than a run of them. Next to the band it
watches for level shifts (the median of the last few points against the points before), which the
fast-following bands absorb within a few points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import special

from pharos.monitors import rolling as rl
from pharos.monitors.anomaly import AnomalyParams, anomaly_band
from pharos.monitors.contextual import novelty

NOVEL = 0.75  # contextual novelty from which a point counts as a new pattern (as CAD OSE's)


@dataclass(frozen=True)
class Detector:
    """One fixed configuration of an anomaly algorithm, used for every series."""

    algorithm: str
    seasonality: str | int | None = "auto"
    params: AnomalyParams = field(default_factory=AnomalyParams)
    holdoff: int = 120  # points over which a repeat must exceed the earlier maximum
    decay: float = 0.0  # if > 0: instead, the half-life of an all-time decaying maximum
    short: int = 1  # points averaged into the current surprise
    long: int = 2000  # points of history the surprise is compared with
    warmup: int = 0  # leading points that never score (the models are still learning)
    shifts: tuple[int, ...] = (3, 9, 27, 81, 243)  # spans whose median is tested for a level shift
    shift_long: int = 1000  # points before a span that give the reference level and spread
    rest: int = 30  # contextual: points kept silent after a new pattern (CAD OSE's rest period)


DETECTORS: dict[str, Detector] = {
    # One parameter set per algorithm for every series (chosen once on the whole NAB corpus).
    "basic": Detector("basic", None, AnomalyParams(bounds=5.0, window=96, scale_window=1000)),
    "agile": Detector("agile", "auto", AnomalyParams(bounds=5.0, window=12, scale_window=1000)),
    "robust": Detector("robust", "auto", AnomalyParams(bounds=10.0, window=12, scale_window=1000)),
    "contextual": Detector("contextual", None),
}


def nab_scores(values: np.ndarray, step_s: float, name: str) -> np.ndarray:
    """Scores in [0, 1] for one series with the named detector (see DETECTORS)."""
    det = DETECTORS[name]
    if det.algorithm == "contextual":
        return contextual_scores(values, det.rest)[0]
    zs = []
    for algorithm in det.algorithm.split("+"):
        band = anomaly_band(values, algorithm, det.params.bounds, det.seasonality, step_s, det.params)
        zs.append(likelihood(band.score, det.short, det.long))
    zs.extend(likelihood(s, 1, det.long) for s in level_shifts(values, det.shifts, det.shift_long))
    return detection_scores(np.max(zs, axis=0), det.holdoff, det.warmup, det.decay)[0]


def contextual_scores(values: np.ndarray, rest: int) -> np.ndarray:
    """Contextual novelty in [0, 1], 0 for `rest` points after a point of novelty >= NOVEL."""
    nov = np.nan_to_num(novelty(values), nan=0.0)
    return np.where(_rolling_max(nov, rest) < NOVEL, nov, 0.0)


def level_shifts(values: np.ndarray, spans: tuple[int, ...], long: int) -> list[np.ndarray]:
    """Per span n: how far the median of the last n points lies from the `long` points before
    them, in robust sigmas (their interquartile range / 1.349, floored at 1e-3 of their mean
    magnitude)."""
    x = rl.as_2d(values)
    base, seen = rl.rolling_median(x, long, min_periods=1), rl.rolling_count(x, long)
    iqr = rl.rolling_quantile(x, long, 0.75) - rl.rolling_quantile(x, long, 0.25)
    level = rl.rolling_mean(np.abs(x), long, min_periods=1)
    sigma = np.maximum(np.nan_to_num(iqr / 1.349), 1e-3 * np.nan_to_num(level) + 1e-9)
    out = []
    for n in spans:
        recent = rl.frame(x).rolling(n, min_periods=1).median().to_numpy().T
        ref = rl.lag(np.where(seen >= n, base, np.nan), n - 1)
        out.append(np.abs(recent - ref) / rl.lag(sigma, n - 1))
    return out


def likelihood(score: np.ndarray, short: int, long: int) -> np.ndarray:
    """How unusual the recent band scores are for this series, as a z-value.

    The mean of the last `short` scores is compared with the mean and spread of the scores over
    the `long` points before (a Gaussian tail, as in Numenta's anomaly likelihood).
    """
    s = np.log1p(np.nan_to_num(rl.as_2d(score), nan=0.0, posinf=1e6))
    recent = rl.frame(s).rolling(short, min_periods=1).mean().to_numpy().T
    mu = rl.rolling_mean(s, long, min_periods=short)
    sd = np.maximum(np.nan_to_num(rl.rolling_std(s, long, min_periods=short)), 1e-3)
    z = np.nan_to_num((recent - mu) / sd, nan=0.0)
    return z


def detection_scores(z: np.ndarray, holdoff: int, warmup: int = 0, decay: float = 0.0) -> np.ndarray:
    """Scores in [0, 1] from surprise z-values; points not more surprising than the last
    `holdoff` ones score 0."""
    s = -special.log_ndtr(-z) / np.log(10.0)  # -log10 of the Gaussian tail probability
    s[:, :warmup] = 0.0
    recent = _rolling_max(s, int(holdoff)) if decay <= 0 else np.nan_to_num(_decaying_max(s, decay), nan=0.0)
    recent = np.maximum(recent, 0.0)
    novel = np.where(s > recent, s, 0.0)
    return novel / (novel + 10.0)


def _rolling_max(s: np.ndarray, window: int) -> np.ndarray:
    """Max of the previous `window` columns (0 where none)."""
    frame = rl.frame(s).rolling(window, min_periods=1).max().to_numpy().T
    return np.nan_to_num(rl.lag(frame, 1), nan=0.0)


def _decaying_max(s: np.ndarray, half_life: float) -> np.ndarray:
    """Per column t, max over j < t of s[j] * 2**(-(t - j) / half_life) (0 where none).

    Computed in the log domain with one running maximum: log s_j + (t - j) log d splits into a
    term of j and a term of t.
    """
    log_d = -np.log(2.0) / half_life
    j = np.arange(s.shape[1], dtype=np.float64)
    with np.errstate(divide="ignore"):
        term = np.log(np.maximum(s, 0.0)) - j * log_d
    best = np.maximum.accumulate(term, axis=1) + j * log_d
    return rl.lag(np.exp(best), 1)
