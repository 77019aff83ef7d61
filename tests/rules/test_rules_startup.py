"""A rule file that does not load at start stops the server with file:line reasons, as
Prometheus does (at reload it is refused and the running rules stay: test_rules_eval.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from pharos_testproc import PharosProcess

from pharos.config.loader import parse_config
from pharos.metrics.tsdb.db import TSDB, TSDBOptions
from pharos.rules.component import RulesComponent, RulesConfigError

BAD_PROMQL = "groups:\n  - name: g\n    rules:\n      - record: x:y\n        expr: sum(\n"
BAD_LOGQL = (
    "groups:\n  - name: l\n    source: logs\n    rules:\n      - alert: A\n"
    "        expr: count_over_time({app=\"a\"}[1m]\n"
)


@pytest.mark.parametrize(("text", "where"), [(BAD_PROMQL, "5:15"), (BAD_LOGQL, "6:15")])
def test_bad_rule_file_fails_the_start_with_file_and_line(tmp_path: Path, text: str, where: str) -> None:
    rules = tmp_path / "bad.yml"
    rules.write_text(text)
    cfg = tmp_path / "pharos.yml"
    cfg.write_text(f"rule_files: ['{rules}']\n")
    proc = PharosProcess(tmp_path, "server", ("--config", str(cfg)))
    try:
        assert proc.wait_exit() == 1
        log = proc.log()
        assert f"{rules}: {where}: group" in log and "could not parse expression" in log
        assert "Traceback" not in log
    finally:
        proc.stop()


async def test_component_start_sets_startup_error_and_stops_the_server(tmp_path: Path) -> None:
    rules = tmp_path / "bad.yml"
    rules.write_text(BAD_PROMQL)
    loaded = parse_config(f"rule_files: ['{rules}']\n")
    tsdb = TSDB(tmp_path / "data", TSDBOptions(wal_fsync_interval_s=60))
    tsdb.open()
    fatal: list[bool] = []
    runtime = SimpleNamespace(tsdb=tsdb, loaded=loaded, components=[], startup_error=None,
                              on_fatal=lambda: fatal.append(True),
                              opts=SimpleNamespace(url="http://127.0.0.1:9494"))
    comp = RulesComponent(runtime)
    try:
        with pytest.raises(RulesConfigError):
            await comp.start(runtime)  # type: ignore[arg-type]
        assert fatal == [True] and comp.manager is None
        assert runtime.startup_error.startswith(f"error loading rule files: {rules}: 5:15: ")
    finally:
        await comp.stop()
        tsdb.close()
