"""Run Prometheus's promqltest scripts; failures must stay within the recorded budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pharos.metrics.promql.promqltest import run_file
from shared_data import CONFORMANCE as SHARED_CONFORMANCE

CONFORMANCE = SHARED_CONFORMANCE / "promqltest"
BUDGET = json.loads((Path(__file__).parent / "conformance_budget.json").read_text())
REQUIRED = {
    f"{name}.test"
    for name in [
        "aggregators",
        "at_modifier",
        "collision",
        "functions",
        "histograms",
        "literals",
        "limit",
        "name_label_dropping",
        "operators",
        "range_queries",
        "selectors",
        "staleness",
        "subquery",
        "trig_functions",
    ]
}
FILES = sorted(CONFORMANCE.glob("*.test")) if CONFORMANCE.is_dir() else []


@pytest.mark.skipif(not FILES, reason="conformance scripts not present")
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_conformance_file(path: Path) -> None:
    passed, failed, _skipped, failures = run_file(path)
    budget = BUDGET.get(path.name)
    assert budget is not None, f"no budget recorded for {path.name}"
    detail = "\n".join(failures[:20])
    if path.name in REQUIRED:
        assert failed == 0, f"required file has {failed} failures:\n{detail}"
    assert failed <= budget["failed"], f"{failed} failures > budget {budget['failed']}:\n{detail}"
    assert passed >= budget["passed"], f"{passed} passes < recorded {budget['passed']}:\n{detail}"
