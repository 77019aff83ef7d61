"""Forecast accuracy on NAB's seasonal series: forecast the last 10% from the rest.

    .venv/bin/python benchmarks/monitors_forecast.py

Selection (fixed rule, no hand-picking): a file is seasonal when `rolling.detect_period` finds a
daily or weekly season in its first 90% (autocorrelation at the season lag at least 0.3 above
that at half the lag); the season found is the one used. Files whose seasonal-naive error is 0
(noise-free synthetic series) have no defined ratio and are listed but not averaged.

Figures per file, over the forecast 10%:
* `rel` — our MAE / the seasonal-naive forecast's MAE (the last season repeated); below 1 = better
  than seasonal naive. This is the headline "MASE against a seasonal-naive forecast".
* `MASE` — Hyndman's MASE of our forecast and of seasonal naive: MAE / the in-sample MAE of the
  one-season-back forecast over the history.
The summary gives the mean and the median over files of each, and (as a check on the selection)
`rel` over every file forecast at its daily season.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pharos.monitors import nab
from pharos.monitors import rolling as rl
from pharos.monitors.forecast import forecast_path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PHAROS_SHARED", REPO.parent / "shared"))


@dataclass
class Scores:
    """Errors of one file's forecast: our MAE, seasonal naive's, and the in-sample scale."""

    period: int
    ours: float
    naive: float
    scale: float

    @property
    def rel(self) -> float:
        return self.ours / self.naive if self.naive > 0 else float("nan")


def seasonal_naive(history: np.ndarray, steps: int, period: int) -> np.ndarray:
    """The last season of the history, repeated."""
    return np.resize(history[-period:], steps)


def score(f: nab.NabFile, period: int) -> Scores:
    """Forecast the last 10% of `f` from the rest with season `period`."""
    step = nab.step_seconds(f.timestamps)
    cut = int(len(f.values) * 0.9)
    hist, future = f.values[:cut], f.values[cut:]
    ours = forecast_path(hist, len(future), "seasonal", seasonality=period, step_s=step).value
    naive = seasonal_naive(hist, len(future), period)
    scale = float(np.mean(np.abs(hist[period:] - hist[:-period])))
    return Scores(period, _mae(ours, future), _mae(naive, future), scale)


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b)))


def seasonal_period(f: nab.NabFile) -> int:
    """The daily or weekly season detected in the first 90% of `f`, or 0."""
    step = nab.step_seconds(f.timestamps)
    period = rl.detect_period(f.values[: int(len(f.values) * 0.9)], step)
    return period if period in (rl.period_samples(s, step) for s in ("daily", "weekly")) else 0


def summary(label: str, values: list[float]) -> str:
    """'label: mean x, median y (n files)' over the finite values."""
    v = np.array([x for x in values if np.isfinite(x)])
    return f"{label}: mean {v.mean():.3f}, median {np.median(v):.3f} ({len(v)} files)"


def main() -> int:
    corpus = nab.load_corpus(SHARED / "nab")
    rows: list[Scores] = []
    print(f"{'file':<56}{'period':>7}{'MAE':>10}{'naive MAE':>10}{'rel':>7}{'MASE':>7}{'naive':>7}")
    for f in corpus:
        period = seasonal_period(f)
        if not period:
            continue
        s = score(f, period)
        rows.append(s)
        mase, naive = (s.ours / s.scale, s.naive / s.scale) if s.scale > 0 else (np.nan, np.nan)
        maes = f"{s.ours:>10.4g}{s.naive:>10.4g}"
        print(f"{f.name:<56}{period:>7}{maes}{s.rel:>7.3f}{mase:>7.3f}{naive:>7.3f}")
    print(f"{len(rows)} seasonal series of {len(corpus)}")
    print(summary("rel (ours / seasonal naive)", [s.rel for s in rows]))
    print(summary("MASE ours", [s.ours / s.scale for s in rows if s.naive > 0]))
    print(summary("MASE seasonal naive", [s.naive / s.scale for s in rows if s.naive > 0]))
    daily = [score(f, rl.period_samples("daily", nab.step_seconds(f.timestamps))) for f in corpus]
    print(summary("check, every file at its daily season: rel", [s.rel for s in daily]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
