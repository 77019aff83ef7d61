"""Suite-wide setup: make the helper modules of `tests/` and its folders importable, and treat a
skipped test as a failed one — a skip here always means a missing install step (a peer binary,
Chromium, the built UI, a test dependency), and `make test` installs all of them."""

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# Test modules are imported by path (--import-mode=importlib), so two folders may both have a
# test_api.py; helper modules are imported by name from every folder, so their names are unique.
for folder in [TESTS, *sorted(p for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))]:
    sys.path.insert(0, str(folder))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Turn a skip into a failure that names what is missing."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, which this suite does not allow: {reason}"
