"""`pharos version`, `check config`, `import openmetrics` and bad input: exit codes and one-line
errors without tracebacks."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pharos_testproc import PharosProcess, run_cli

from pharos import __version__

GOOD = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: ['h:1']\n"
BROKEN = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_interval: soon\n"


def test_version() -> None:
    result = run_cli("version")
    assert result.returncode == 0 and result.stdout.strip() == f"pharos {__version__}"


def test_check_config_ok(tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text(GOOD)
    result = run_cli("check", "config", str(config))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_prints_warnings_and_stays_ok(tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text(GOOD + "remote_read:\n  - url: http://x\n")
    result = run_cli("check", "config", str(config))
    assert result.returncode == 0
    assert "warning" in result.stdout and "remote_read" in result.stdout


def test_check_config_broken_names_file_line_key(tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text(BROKEN)
    result = run_cli("check", "config", str(config))
    assert result.returncode == 1
    assert f"{config}:5: scrape_configs[0].scrape_interval" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_check_config_missing_file(tmp_path: Path) -> None:
    result = run_cli("check", "config", str(tmp_path / "nope.yml"))
    assert result.returncode == 1
    assert "nope.yml" in result.stderr and "Traceback" not in result.stderr


def test_bad_listen_is_one_line_error(tmp_path: Path) -> None:
    result = run_cli("server", "--listen", "nonsense", "--data-dir", str(tmp_path / "d"))
    assert result.returncode != 0
    assert "--listen" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_command_fails() -> None:
    result = run_cli("frobnicate")
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_import_openmetrics_then_read_back(tmp_path: Path) -> None:
    data = tmp_path / "data"
    src = tmp_path / "in.om"
    t0 = int(time.time()) // 60 * 60 - 3600  # recent, so retention keeps it
    src.write_text(
        "# HELP temp A temperature.\n# TYPE temp gauge\n"
        f'temp{{room="a"}} 21.5 {t0}\ntemp{{room="a"}} 22.25 {t0 + 60}\n'
        f'temp{{room="b"}} 19 {t0}\n# EOF\n'
    )
    result = run_cli("import", "openmetrics", str(src), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert "imported 3 samples of 2 series" in result.stdout

    server = PharosProcess(tmp_path, "server", ["--data-dir", str(data)])
    try:
        server.wait_ready()
        resp = server.client.get("/api/v1/export", params={"match[]": "temp", "start": str(t0 - 1)})
        rows = {json.loads(line)["metric"]["room"]: json.loads(line) for line in resp.text.splitlines()}
        assert rows["a"]["values"] == [21.5, 22.25]
        assert rows["a"]["timestamps"] == [t0 * 1000, (t0 + 60) * 1000]
        assert rows["b"]["values"] == [19]
    finally:
        assert server.stop() == 0


def test_import_bad_input_is_clear(tmp_path: Path) -> None:
    src = tmp_path / "bad.om"
    src.write_text("temp 1 1700000000\n")  # no '# EOF'
    result = run_cli("import", "openmetrics", str(src), "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 1 and "# EOF" in result.stderr and "Traceback" not in result.stderr
    missing = run_cli("import", "openmetrics", str(tmp_path / "none.om"), "--data-dir", str(tmp_path / "d"))
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_promqltest_counts_passed_and_failed(tmp_path: Path) -> None:
    script = tmp_path / "mini.test"
    script.write_text(
        "load 1m\n  metric{a=\"x\"} 0+10x10\n\n"
        "eval instant at 5m metric\n  metric{a=\"x\"} 50\n\n"
        "eval instant at 5m metric\n  metric{a=\"x\"} 51\n"
    )
    result = run_cli("promqltest", str(script))
    assert result.returncode == 1
    assert f"{script}: 1 passed, 1 failed, 0 skipped" in result.stdout
    assert "total: 1 passed, 1 failed, 0 skipped" in result.stdout


def test_check_config_checks_rule_files_and_alertmanager_section(tmp_path: Path) -> None:
    (tmp_path / "good.rules.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n"
    )
    (tmp_path / "bad.rules.yml").write_text(
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n"
    )
    config = tmp_path / "pharos.yml"
    config.write_text("rule_files: ['good.rules.yml']\n")
    result = run_cli("check", "config", str(config))
    assert result.returncode == 0, result.stderr
    assert "1 rule file" in result.stdout

    config.write_text("rule_files: ['*.rules.yml']\n")
    result = run_cli("check", "config", str(config))
    assert result.returncode == 1
    assert "bad.rules.yml" in result.stderr and "Traceback" not in result.stderr

    config.write_text("alertmanager:\n  route:\n    receiver: nobody\n  receivers:\n    - name: team\n")
    result = run_cli("check", "config", str(config))
    assert result.returncode == 1
    assert f"{config}:3: alertmanager.route.receiver" in result.stderr
