"""Speed: the anomaly band of 1,000 series over one week at 5-minute resolution (target <= 2 s).

    .venv/bin/python benchmarks/monitors_speed.py
"""

from __future__ import annotations

import sys
import time

import numpy as np

from pharos.monitors.anomaly import ALGORITHMS, anomaly_band

WEEK = 7 * 288


def main() -> int:
    rng = np.random.default_rng(0)
    t = np.arange(WEEK)
    x = 100 + 20 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, (1000, WEEK))
    for algorithm in ALGORITHMS:
        for seasonality in ((None,) if algorithm == "basic" else ("daily", "auto")):
            t0 = time.perf_counter()
            anomaly_band(x, algorithm, 2.0, seasonality, 300.0)
            print(f"{algorithm:<7} {seasonality!s:<6} 1000 x {WEEK}: {time.perf_counter() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
