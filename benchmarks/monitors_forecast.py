"""Forecast accuracy on NAB's seasonal series: forecast the last 10% from the rest.

    .venv/bin/python benchmarks/monitors_forecast.py

A series is seasonal when `detect_period` finds a daily or weekly season in its first 90%. The
score is MASE against the seasonal-naive forecast (the value one season earlier, repeated):
mean absolute error of pharos' forecast / that of seasonal-naive (below 1 = better than naive).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from pharos.monitors import nab
from pharos.monitors import rolling as rl
from pharos.monitors.forecast import forecast_path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PHAROS_SHARED", REPO.parent / "shared"))


def seasonal_naive(history: np.ndarray, steps: int, period: int) -> np.ndarray:
    """The last season of the history, repeated."""
    last = history[-period:]
    return np.resize(last, steps)


def evaluate(f: nab.NabFile) -> tuple[int, float, float] | None:
    """(period, our MAE, naive MAE) for a seasonal file, or None."""
    step = nab.step_seconds(f.timestamps)
    cut = int(len(f.values) * 0.9)
    hist, future = f.values[:cut], f.values[cut:]
    period = rl.detect_period(hist, step)
    if period not in (rl.period_samples("daily", step), rl.period_samples("weekly", step)):
        return None
    ours = forecast_path(hist, len(future), "seasonal", seasonality=period, step_s=step).value
    naive = seasonal_naive(hist, len(future), period)
    return period, float(np.mean(np.abs(ours - future))), float(np.mean(np.abs(naive - future)))


def main() -> int:
    ratios = []
    for f in nab.load_corpus(SHARED / "nab"):
        r = evaluate(f)
        if r is None:
            continue
        period, ours, naive = r
        ratio = ours / naive if naive > 0 else float("nan")
        ratios.append(ratio)
        print(f"{f.name:<60} period {period:>5}  MASE {ratio:6.3f}")
    finite = np.array([r for r in ratios if np.isfinite(r)])
    print(f"{len(ratios)} seasonal series: mean MASE {finite.mean():.3f}, median {np.median(finite):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
