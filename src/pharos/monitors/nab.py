"""A scorer for the Numenta Anomaly Benchmark (NAB), restated from `../shared/nab/SCORING.md`.

Windows are inclusive row ranges; rows before the probationary period are ignored; detections
inside a window earn the sigmoid-weighted score of the earliest one, a window without one costs
`A_FN`, and every detection outside a window costs its own sigmoid-weighted FP score. One threshold
per detector and profile is chosen for the whole corpus by an exhaustive sweep, and raw scores are
normalised between the null detector (never fires) and the perfect one (first row of every window).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PROFILES: dict[str, tuple[float, float, float]] = {
    # name: (A_TP, A_FN, A_FP)
    "standard": (1.0, 1.0, 0.11),
    "reward_low_FP_rate": (1.0, 1.0, 0.22),
    "reward_low_FN_rate": (1.0, 2.0, 0.11),
}
SWEEP_START = 1.1


def sigmoid(y: np.ndarray | float) -> np.ndarray:
    """NAB's scaled sigmoid: 2/(1+exp(5y)) - 1, and -1 beyond y > 3."""
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):
        out = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, out)


SIGMA_MINUS_ONE = float(sigmoid(-1.0))


def probation(n_rows: int) -> int:
    """Rows with index below this are ignored: min(floor(0.15 N), 750)."""
    return int(min(math.floor(0.15 * n_rows), 0.15 * 5000))


@dataclass
class NabFile:
    """One corpus file: values, timestamps and its windows as inclusive row-index pairs."""

    name: str
    timestamps: list[str]
    values: np.ndarray
    windows: list[tuple[int, int]]

    @property
    def probation(self) -> int:
        return probation(len(self.values))


@dataclass
class RowWeights:
    """Per-row unit weights of one file (only rows after probation).

    `window` is the window index of a row (-1 outside any); `tp` the TP weight of a row in a
    window (sigma(y)/sigma(-1)); `fp` the FP weight of a row outside (in [-1, 0]).
    """

    window: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    start: int  # first scored row (the probationary period)
    n_windows: int


def row_weights(n_rows: int, windows: list[tuple[int, int]]) -> RowWeights:
    """The unit TP/FP weight of every row, as SCORING.md section 3 describes."""
    idx = np.arange(n_rows)
    window = np.full(n_rows, -1, np.int64)
    tp = np.zeros(n_rows)
    fp = np.full(n_rows, -1.0)
    for k, (s, e) in enumerate(windows):
        width = e - s + 1
        inside = idx[s : e + 1]
        window[s : e + 1] = k
        tp[s : e + 1] = sigmoid(-(e - inside + 1) / width) / SIGMA_MINUS_ONE
        fp[s : e + 1] = 0.0
        nxt = windows[k + 1][0] if k + 1 < len(windows) else n_rows
        after = idx[e + 1 : nxt]
        if len(after):
            fp[e + 1 : nxt] = sigmoid(np.abs(e - after) / max(width - 1, 1))
    p = probation(n_rows)
    return RowWeights(window[p:], tp[p:], fp[p:], p, len(windows))


def file_score(scores: np.ndarray, weights: RowWeights, threshold: float, profile: str) -> float:
    """The raw score of one file's detector output at a threshold."""
    a_tp, a_fn, a_fp = PROFILES[profile]
    det = np.asarray(scores)[weights.start :] >= threshold
    total = float((weights.fp[det & (weights.window < 0)]).sum()) * a_fp
    for k in range(weights.n_windows):
        hit = det & (weights.window == k)
        total += a_tp * float(weights.tp[hit].max()) if hit.any() else -a_fn
    return total


@dataclass
class SweepResult:
    """The best threshold of a corpus sweep and the raw/normalised scores there."""

    threshold: float
    raw: float
    normalized: float
    n_windows: int


def sweep(all_scores: list[np.ndarray], all_weights: list[RowWeights], profile: str) -> SweepResult:
    """Exhaustively sweep one threshold over the pooled rows of every file (SCORING.md section 6)."""
    a_tp, a_fn, a_fp = PROFILES[profile]
    score_parts, delta_parts, key_parts, tp_parts = [], [], [], []
    base = 0
    n_windows = 0
    for s, w in zip(all_scores, all_weights, strict=True):
        sc = np.asarray(s, np.float64)[w.start :]
        score_parts.append(sc)
        delta_parts.append(np.where(w.window < 0, w.fp * a_fp, 0.0))
        key_parts.append(np.where(w.window < 0, -1, w.window + base))
        tp_parts.append(w.tp * a_tp)
        base += w.n_windows
        n_windows += w.n_windows
    scores = np.concatenate(score_parts)
    delta = np.concatenate(delta_parts)
    keys = np.concatenate(key_parts)
    tp = np.concatenate(tp_parts)
    order = np.argsort(-scores, kind="stable")
    scores, delta, keys, tp = scores[order], delta[order], keys[order], tp[order]
    delta += _window_deltas(keys, tp, a_fn)
    running = -a_fn * n_windows + np.cumsum(delta)
    last_of_value = np.flatnonzero(np.r_[scores[1:] != scores[:-1], True])
    candidates = np.r_[-a_fn * n_windows, running[last_of_value]]
    thresholds = np.r_[SWEEP_START, scores[last_of_value]]
    best = int(np.argmax(candidates))  # first (highest threshold) on ties
    raw = float(candidates[best])
    return SweepResult(float(thresholds[best]), raw, normalize(raw, n_windows, profile), n_windows)


def _window_deltas(keys: np.ndarray, tp: np.ndarray, a_fn: float) -> np.ndarray:
    """Per swept row, the change of its window's term (best TP so far replaces -A_FN)."""
    out = np.zeros(len(keys))
    inw = np.flatnonzero(keys >= 0)
    if not len(inw):
        return out
    by_key = inw[np.argsort(keys[inw], kind="stable")]  # grouped by window, sweep order kept
    k = keys[by_key]
    vals = tp[by_key]
    starts = np.r_[True, k[1:] != k[:-1]]
    group = np.cumsum(starts) - 1
    first_idx = np.flatnonzero(starts)
    # cumulative max within each group: offset each group so one global accumulate suffices
    shift = np.arange(len(first_idx), dtype=np.float64)[group] * 10.0
    cm = np.maximum.accumulate(vals + shift) - shift
    prev = np.r_[0.0, cm[:-1]]
    prev[first_idx] = -a_fn
    out[by_key] = cm - prev
    return out


def normalize(raw: float, n_windows: int, profile: str) -> float:
    """100 * (S - S_null) / (S_perfect - S_null) with the analytic null and perfect scores."""
    a_tp, a_fn, _ = PROFILES[profile]
    null, perfect = -a_fn * n_windows, a_tp * n_windows
    return 100.0 * (raw - null) / (perfect - null)


def load_corpus(nab_dir: Path) -> list[NabFile]:
    """Every data file of a NAB checkout with its windows mapped to row indices."""
    windows = json.loads((nab_dir / "labels" / "combined_windows.json").read_text())
    out = []
    for rel in sorted(windows):
        ts, vals = _read_csv(nab_dir / "data" / rel)
        pos = {t: i for i, t in enumerate(ts)}
        idx = [(pos[_strip(a)], pos[_strip(b)]) for a, b in windows[rel]]
        out.append(NabFile(rel, ts, vals, idx))
    return out


def _strip(stamp: str) -> str:
    return stamp.split(".")[0]


def _read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open() as fh:
        rows = list(csv.reader(fh))[1:]
    return [r[0] for r in rows], np.array([float(r[1]) for r in rows])


def step_seconds(timestamps: list[str]) -> float:
    """The median spacing of a file's timestamps in seconds."""
    t = np.array(timestamps, dtype="datetime64[s]").astype(np.int64)
    return float(np.median(np.diff(t))) if len(t) > 1 else 300.0
