"""Re-record tests/promql/conformance_budget.json from the current runner results."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pharos.metrics.promql.promqltest import run_file
from shared_data import CONFORMANCE as SHARED_CONFORMANCE

CONFORMANCE = SHARED_CONFORMANCE / "promqltest"


def main() -> None:
    out = {}
    for path in sorted(CONFORMANCE.glob("*.test")):
        passed, failed, skipped, _ = run_file(path)
        out[path.name] = {"passed": passed, "failed": failed, "skipped": skipped}
    target = Path(__file__).parent / "conformance_budget.json"
    target.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
