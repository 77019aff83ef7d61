"""`pharos query` against a real server on 127.0.0.1 holding imported data."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from pharos_testproc import PharosProcess, free_port, run_cli

STEP = 15


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PharosProcess, int]]:
    """A server over two counters imported for the last 30 minutes; yields it and the last ts."""
    work = tmp_path_factory.mktemp("query")
    end = int(time.time()) // STEP * STEP
    lines = ["# TYPE req counter"]
    for job, rate in (("a", 1), ("b", 2)):
        lines += [f'req_total{{job="{job}"}} {i * STEP * rate} {end - 1800 + i * STEP}' for i in range(121)]
    lines.append("# EOF")
    data = work / "data.om"
    data.write_text("\n".join(lines) + "\n")
    done = run_cli("import", "openmetrics", str(data), "--data-dir", str(work / "data"))
    assert done.returncode == 0, done.stderr
    proc = PharosProcess(work, data_dir=work / "data")
    try:
        proc.wait_ready()
        yield proc, end
    finally:
        proc.stop()


def test_instant_table(server: tuple[PharosProcess, int]) -> None:
    proc, end = server
    done = run_cli("query", "sum by (job) (rate(req_total[5m]))", "--server", proc.url, "--time", str(end))
    assert done.returncode == 0, done.stderr
    assert '{job="a"}' in done.stdout and '{job="b"}' in done.stdout
    assert "series" in done.stdout and "value" in done.stdout


def test_instant_json(server: tuple[PharosProcess, int]) -> None:
    proc, end = server
    done = run_cli(
        "query", "rate(req_total[5m])", "--server", proc.url, "--time", str(end), "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["resultType"] == "vector"
    rates = {r["metric"]["job"]: float(r["value"][1]) for r in data["result"]}
    assert rates == pytest.approx({"a": 1.0, "b": 2.0})


def test_range_json(server: tuple[PharosProcess, int]) -> None:
    proc, end = server
    args = ["--start", str(end - 600), "--end", str(end), "--step", "1m", "--format", "json"]
    done = run_cli("query", 'req_total{job="a"}', "--server", proc.url, *args)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["resultType"] == "matrix"
    [series] = data["result"]
    assert [p[0] for p in series["values"]] == list(range(end - 600, end + 1, 60))


def test_syntax_error_is_one_line(server: tuple[PharosProcess, int]) -> None:
    proc, _ = server
    done = run_cli("query", "sum(rate(req_total[5m])", "--server", proc.url)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "bad_data" in done.stderr and "1:24: parse error" in done.stderr


def test_unreachable_server_and_bad_flags() -> None:
    done = run_cli("query", "up", "--server", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1 and "cannot reach" in done.stderr
    done = run_cli("query", "up", "--start", "yesterday")
    assert done.returncode == 1 and "bad time" in done.stderr
    done = run_cli("query", "up", "--format", "yaml")
    assert done.returncode == 1 and "--format" in done.stderr


def test_server_stats_and_error_position(server: tuple[PharosProcess, int]) -> None:
    proc, end = server
    r = proc.client.get("/api/v1/query", params={"query": "req_total", "time": str(end), "stats": "all"})
    assert r.json()["data"]["stats"]["samples"]["totalQueryableSamples"] > 0
    r = proc.client.get("/api/v1/query", params={"query": "1 +* 2"})
    assert r.status_code == 400
    assert r.json() == {
        "status": "error",
        "errorType": "bad_data",
        "error": 'invalid parameter "query": 1:4: parse error: unexpected <op:*>',
    }
