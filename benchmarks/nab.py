"""NAB: every pharos anomaly algorithm, one fixed parameter set, scored like the NAB scoreboard.

    .venv/bin/python benchmarks/nab.py            # all algorithms, all 58 files, 3 profiles

The corpus is `<repo>/../shared/nab` (or $PHAROS_SHARED/nab). No per-file tuning: every file is
run with the same `DETECTORS` settings; the threshold is swept once over the whole corpus per
profile, as NAB's own optimiser does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from pharos.monitors import nab
from pharos.monitors.detect import DETECTORS, nab_scores

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PHAROS_SHARED", REPO.parent / "shared"))
PROFILE_COLS = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def run(names: list[str]) -> dict[str, dict[str, float]]:
    """Score each named detector over the corpus; returns {name: {profile: normalized}}."""
    corpus = nab.load_corpus(SHARED / "nab")
    weights = [nab.row_weights(len(f.values), f.windows) for f in corpus]
    out: dict[str, dict[str, float]] = {}
    for name in names:
        t0 = time.perf_counter()
        scores = [nab_scores(f.values, nab.step_seconds(f.timestamps), name) for f in corpus]
        elapsed = time.perf_counter() - t0
        out[name] = {prof: nab.sweep(scores, weights, prof).normalized for prof in PROFILE_COLS}
        out[name]["seconds"] = elapsed
    return out


def print_table(ours: dict[str, dict[str, float]]) -> None:
    """Our rows and the published scoreboard, sorted by the standard profile."""
    published = json.loads((SHARED / "nab" / "results" / "final_results.json").read_text())
    rows = [(f"pharos:{k}", v) for k, v in ours.items()] + list(published.items())
    rows.sort(key=lambda r: -r[1]["standard"])
    print(f"{'detector':<26}{'standard':>10}{'low FP':>10}{'low FN':>10}")
    for name, v in rows:
        cols = "".join(f"{v[p]:>10.1f}" for p in PROFILE_COLS)
        print(f"{name:<26}{cols}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--only", nargs="*", default=list(DETECTORS), help="detectors to run")
    args = ap.parse_args()
    ours = run(args.only)
    print_table(ours)
    for name, v in ours.items():
        print(f"pharos:{name}: {v['seconds']:.1f} s over the corpus")
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
