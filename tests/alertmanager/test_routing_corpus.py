"""Routing equivalence: pharos picks the same receivers as `amtool config routes test`."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pharos.alertmanager.config import load_file
from pharos.alertmanager.matchers import parse_matcher
from pharos.alertmanager.route import Route

CORPUS = Path(__file__).parent / "corpus"
AMTOOL = shutil.which("amtool") or "/usr/bin/amtool"


def _label_sets() -> list[str]:
    lines = (CORPUS / "labelsets.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def _labels(line: str) -> dict[str, str]:
    """The label set amtool builds from its arguments (one matcher per argument)."""
    out = {}
    for arg in shlex.split(line):
        m = parse_matcher(arg)
        out[m.name] = m.value
    return out


def _amtool_receivers(line: str) -> str:
    run = subprocess.run(
        [AMTOOL, "config", "routes", "test", f"--config.file={CORPUS / 'alertmanager.yml'}", *shlex.split(line)],
        capture_output=True, text=True, timeout=30, check=True,
    )
    return run.stdout.strip()


@pytest.fixture(scope="module")
def tree() -> Route:
    return Route.build(load_file(CORPUS / "alertmanager.yml").route)


@pytest.mark.interop
@pytest.mark.parametrize("line", _label_sets())
def test_same_receivers_as_amtool(tree: Route, line: str) -> None:
    ours = ",".join(r.receiver for r in tree.match(_labels(line)))
    assert ours == _amtool_receivers(line), line


def test_corpus_is_nontrivial(tree: Route) -> None:
    routes = list(tree.walk())
    assert len(routes) >= 12
    assert any(r.conf.continue_ for r in routes)
    assert any(r.conf.mute_time_intervals or r.conf.active_time_intervals for r in routes)
    assert len(_label_sets()) >= 40
