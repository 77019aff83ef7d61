"""pharos' verdicts equal promtool 2.42's: `test rules` on the unit-test corpus and `check rules`
on rule files (exit code per file); failure messages are compared where they must match."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from pharos.rules.check import check_rule_files
from pharos.rules.ruletest import run_rule_tests

PROMTOOL = "/usr/bin/promtool"
CORPUS = Path(__file__).resolve().parent / "corpus"
TEST_FILES = sorted(p.name for p in CORPUS.glob("*_test.yml"))
RULE_FILES = sorted(f"check/{p.name}" for p in (CORPUS / "check").glob("*.yml")) + sorted(
    p.name for p in CORPUS.glob("rules_*.yml")
)
pytestmark = pytest.mark.interop
Runner = Callable[[list[str], Callable[[str], None], Callable[[str], None]], int]


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert shutil.which(PROMTOOL), "promtool 2.42 is required"
    return subprocess.run([PROMTOOL, *args], cwd=CORPUS, capture_output=True, text=True, timeout=60)


def _pharos(fn: Runner, files: list[str]) -> tuple[int, str]:
    out: list[str] = []
    cwd = os.getcwd()
    os.chdir(CORPUS)
    try:
        code = fn(files, out.append, out.append)
    finally:
        os.chdir(cwd)
    return code, "\n".join(out)


def test_corpus_is_balanced() -> None:
    passing = [n for n in TEST_FILES if not n.startswith("fail_")]
    failing = [n for n in TEST_FILES if n.startswith("fail_")]
    assert len(passing) >= 6 and len(failing) >= 10


@pytest.mark.parametrize("name", TEST_FILES)
def test_unit_test_verdict_matches_promtool(name: str) -> None:
    theirs = _promtool("test", "rules", name)
    code, text = _pharos(run_rule_tests, [name])
    assert code == theirs.returncode, f"promtool:\n{theirs.stdout}{theirs.stderr}\npharos:\n{text}"
    assert (code == 0) == (not name.startswith("fail_"))


@pytest.mark.parametrize("name", [
    "fail_alert_labels_test.yml", "fail_annotation_test.yml", "fail_expr_value_test.yml",
    "fail_nan_test.yml", "fail_unknown_field_test.yml", "fail_missing_alertname_test.yml",
    "fail_for_timing_test.yml", "fail_keep_firing_test.yml", "fail_group_order_test.yml",
])
def test_failure_output_matches_promtool(name: str) -> None:
    theirs = _promtool("test", "rules", name)
    _, text = _pharos(run_rule_tests, [name])
    want = [ln for ln in (theirs.stdout + theirs.stderr).splitlines() if ln.strip()]
    got = [ln for ln in text.splitlines() if ln.strip()]
    assert sorted(got) == sorted(want)


def test_all_files_at_once() -> None:
    theirs = _promtool("test", "rules", *TEST_FILES)
    code, _ = _pharos(run_rule_tests, TEST_FILES)
    assert code == theirs.returncode == 1


@pytest.mark.parametrize("name", RULE_FILES)
def test_check_rules_verdict_matches_promtool(name: str) -> None:
    theirs = _promtool("check", "rules", name)
    code, text = _pharos(check_rule_files, [name])
    assert code == theirs.returncode, f"promtool:\n{theirs.stdout}{theirs.stderr}\npharos:\n{text}"


def test_cli_commands_exit_codes() -> None:
    pharos = Path(sys.executable).parent / "pharos"
    ok = subprocess.run([str(pharos), "test", "rules", "basic_pass_test.yml"], cwd=CORPUS,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "SUCCESS" in ok.stdout
    bad = subprocess.run([str(pharos), "test", "rules", "fail_nan_test.yml"], cwd=CORPUS,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "FAILED:" in bad.stderr
    check = subprocess.run([str(pharos), "check", "rules", "rules_basic.yml", "check/bad_yaml.yml"],
                           cwd=CORPUS, capture_output=True, text=True, timeout=120)
    assert check.returncode == 1 and "SUCCESS: 6 rules found" in check.stdout


def test_duplicate_lint_output_matches_promtool() -> None:
    """Duplicates are found across a file's groups; FAILED on stderr, exit status 0."""
    name = "check/lint_duplicates_across_groups.yml"
    theirs = _promtool("check", "rules", name)
    pharos = Path(sys.executable).parent / "pharos"
    ours = subprocess.run([str(pharos), "check", "rules", name], cwd=CORPUS, capture_output=True, text=True,
                          timeout=120)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
    assert "lint error 2 duplicate rule(s) found." in ours.stderr
