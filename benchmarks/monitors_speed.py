"""Speed: the anomaly band of 1,000 series over one week at 5-minute resolution (target <= 2 s).

    .venv/bin/python benchmarks/monitors_speed.py [--repeat 3]

Each algorithm and seasonality is timed `--repeat` times; the best and the median are printed
(the machine is shared, so the best is the least disturbed run). `contextual` (agile's band plus
the contextual novelty as its score) is a score algorithm, not held to the 2 s band target.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from pharos.monitors.anomaly import ALGORITHMS, anomaly_band

WEEK = 7 * 288
SERIES = 1000
TARGET_S = 2.0
SEASONS: dict[str, tuple[str | None, ...]] = {"basic": (None,), "contextual": ("auto",)}
SCORE_ONLY = ("contextual",)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    t = np.arange(WEEK)
    x = 100 + 20 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, (SERIES, WEEK))
    print(f"{SERIES} series x {WEEK} points, load average {os.getloadavg()[0]:.1f}")
    print(f"{'algorithm':<12}{'season':<8}{'best s':>8}{'median s':>10}  <= {TARGET_S} s")
    for algorithm in ALGORITHMS:
        for seasonality in SEASONS.get(algorithm, ("daily", "auto")):
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                anomaly_band(x, algorithm, 2.0, seasonality, 300.0)
                times.append(time.perf_counter() - t0)
            ok = "score-only" if algorithm in SCORE_ONLY else "yes" if min(times) <= TARGET_S else "NO"
            print(f"{algorithm:<12}{seasonality!s:<8}{min(times):>8.2f}{np.median(times):>10.2f}  {ok}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
