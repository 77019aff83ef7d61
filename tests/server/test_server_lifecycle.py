"""The server process: readiness, clean exits on SIGTERM/SIGINT, reload by SIGHUP and
/-/reload (good and broken configs), data kept across reloads and restarts, clear start errors."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from pharos_testproc import PharosProcess, free_port, wait_for

Start = Callable[..., PharosProcess]


def scrape_yaml(jobs: dict[str, str], interval: str = "1s") -> str:
    """A pharos.yml with one static job per (name -> target)."""
    out = f"global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\nscrape_configs:\n"
    for name, target in jobs.items():
        out += f"  - job_name: {name}\n    static_configs:\n      - targets: ['{target}']\n"
    return out


BROKEN = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: x\n    scrape_interval: soon\n"


def pools(proc: PharosProcess) -> set[str]:
    body = proc.client.get("/api/v1/targets").json()
    return {t["scrapePool"] for t in body["data"]["activeTargets"]}


def exported(proc: PharosProcess, selector: str) -> dict[tuple, list[tuple[int, float]]]:
    resp = proc.client.get("/api/v1/export", params={"match[]": selector})
    assert resp.status_code == 200
    out: dict[tuple, list[tuple[int, float]]] = {}
    for line in resp.text.splitlines():
        row = httpx.Response(200, content=line).json()
        out[tuple(sorted(row["metric"].items()))] = list(zip(row["timestamps"], row["values"], strict=True))
    return out


def test_healthy_ready_and_sigterm_exits_zero(start_pharos: Start) -> None:
    proc = start_pharos("server")
    healthy = proc.client.get("/-/healthy")
    assert healthy.status_code == 200 and healthy.headers["content-type"].startswith("text/plain")
    assert proc.client.get("/-/ready").status_code == 200
    assert proc.client.head("/-/ready").status_code == 200
    assert proc.stop(signal.SIGTERM) == 0
    assert "Traceback" not in proc.log()


def test_sigint_exits_zero(start_pharos: Start) -> None:
    proc = start_pharos("server")
    assert proc.stop(signal.SIGINT) == 0
    assert "Traceback" not in proc.log()


def test_reload_endpoint_good_then_broken(start_pharos: Start, tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text(scrape_yaml({"a": "127.0.0.1:1"}))
    proc = start_pharos("server", "--config", str(config))
    assert pools(proc) == {"a"}
    assert proc.client.get("/-/reload").status_code == 405

    config.write_text(scrape_yaml({"b": "127.0.0.1:1"}))
    resp = proc.client.post("/-/reload")
    assert resp.status_code == 200, resp.text
    assert pools(proc) == {"b"}

    config.write_text(BROKEN)
    resp = proc.client.put("/-/reload")
    assert resp.status_code == 500
    assert resp.text.startswith("failed to reload config: ")
    assert f"{config}:5: scrape_configs[0].scrape_interval" in resp.text
    assert pools(proc) == {"b"}  # the running config stays
    info = proc.client.get("/api/v1/status/runtimeinfo").json()["data"]
    assert info["reloadConfigSuccess"] is False

    config.write_text(scrape_yaml({"c": "127.0.0.1:1"}))
    assert proc.client.post("/-/reload").status_code == 200
    assert proc.client.get("/api/v1/status/runtimeinfo").json()["data"]["reloadConfigSuccess"] is True
    assert "job_name: c" in proc.client.get("/api/v1/status/config").json()["data"]["yaml"]
    assert proc.stop() == 0


def test_sighup_reload_good_then_broken(start_pharos: Start, tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text(scrape_yaml({"a": "127.0.0.1:1"}))
    proc = start_pharos("server", "--config", str(config))

    config.write_text(scrape_yaml({"b": "127.0.0.1:1"}))
    proc.send(signal.SIGHUP)
    wait_for(lambda: pools(proc) == {"b"}, what="SIGHUP reload to apply job b")

    config.write_text(BROKEN)
    proc.send(signal.SIGHUP)

    def reload_failed() -> bool:
        return proc.client.get("/api/v1/status/runtimeinfo").json()["data"]["reloadConfigSuccess"] is False

    wait_for(reload_failed, what="the broken reload to be reported")
    assert f"{config}:5:" in proc.log()
    assert pools(proc) == {"b"}
    assert proc.stop() == 0


def test_data_survives_reload_and_restart(start_pharos: Start, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "pharos.yml"
    config.write_text(scrape_yaml({"self": f"127.0.0.1:{port}"}))
    proc = start_pharos("server", "--config", str(config), port=port)
    wait_for(lambda: len(next(iter(exported(proc, "up").values()), [])) >= 2, what="two scrapes of up")
    before = exported(proc, "up")

    config.write_text(scrape_yaml({"self": f"127.0.0.1:{port}", "other": "127.0.0.1:1"}))
    assert proc.client.post("/-/reload").status_code == 200
    after_reload = exported(proc, '{__name__="up",job="self"}')
    for key, samples in before.items():
        assert set(samples) <= set(after_reload[key])
    assert proc.stop() == 0

    again = start_pharos("server", "--config", str(config), port=free_port())
    restarted = exported(again, '{__name__="up",job="self"}')
    for key, samples in after_reload.items():
        assert set(samples) <= set(restarted[key])


def test_up_scrapes_itself_and_its_node_with_data_in_cwd(start_pharos: Start, tmp_path: Path) -> None:
    proc = start_pharos("up", "--data-dir", "pharos-data")
    targets = proc.client.get("/api/v1/targets").json()["data"]["activeTargets"]
    assert sorted((t["scrapePool"], t["labels"]["instance"], t["scrapeInterval"]) for t in targets) == [
        ("node", f"127.0.0.1:{proc.port}", "15s"),
        ("pharos", f"127.0.0.1:{proc.port}", "15s"),
    ]
    node = proc.client.get("/agent/metrics")
    assert node.status_code == 200 and "node_memory_MemTotal_bytes" in node.text
    assert (tmp_path / "pharos-data").is_dir()
    assert proc.url in proc.log()
    assert proc.stop() == 0


def test_up_collects_the_logs_files(start_pharos: Start, tmp_path: Path) -> None:
    app_log = tmp_path / "app.log"
    app_log.write_text("first line\n")
    proc = start_pharos("up", "--data-dir", "pharos-data", "--logs", str(tmp_path / "*.log"))
    with app_log.open("a") as f:
        f.write("second line\n")

    def collected() -> list[str]:
        resp = proc.client.get(
            "/loki/api/v1/query_range", params={"query": f'{{filename="{app_log}"}}', "direction": "forward"}
        )
        return [v[1] for s in resp.json()["data"]["result"] for v in s["values"]]

    wait_for(lambda: collected() == ["first line", "second line"], timeout=30)
    assert proc.stop() == 0


def test_busy_port_is_a_one_line_error(start_pharos: Start) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = start_pharos("server", port=port, ready=False)
        assert proc.wait_exit() == 1
    assert "cannot listen on 127.0.0.1" in proc.log()
    assert "Traceback" not in proc.log()


def test_broken_config_at_start_names_file_and_line(start_pharos: Start, tmp_path: Path) -> None:
    config = tmp_path / "pharos.yml"
    config.write_text(BROKEN)
    proc = start_pharos("server", "--config", str(config), ready=False)
    assert proc.wait_exit() == 1
    assert f"{config}:5: scrape_configs[0].scrape_interval" in proc.log()
    assert "Traceback" not in proc.log()


def test_data_dir_in_use_fails_cleanly(start_pharos: Start, tmp_path: Path) -> None:
    first = start_pharos("server")
    second = start_pharos("server", ready=False, data_dir=first.data_dir)
    assert second.wait_exit() == 1
    assert "in use" in second.log()
    assert "Traceback" not in second.log()
    assert first.client.get("/-/ready").status_code == 200


def test_alertmanager_config_file_is_loaded_and_a_broken_one_fails_start(
    start_pharos: Start, tmp_path: Path
) -> None:
    am = tmp_path / "alertmanager.yml"
    am.write_text("route:\n  receiver: team\nreceivers:\n  - name: team\n")
    proc = start_pharos("server", "--alertmanager-config", str(am))
    assert [r["name"] for r in proc.client.get("/api/v2/receivers").json()] == ["team"]
    assert proc.stop() == 0

    am.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: team\n")
    broken = start_pharos("server", "--alertmanager-config", str(am), ready=False, port=free_port())
    assert broken.wait_exit() == 1
    assert f"{am}:2: route.receiver" in broken.log()
    assert "Traceback" not in broken.log()


def test_ready_is_503_before_tsdb_open_never_blocks_health(start_pharos: Start) -> None:
    proc = start_pharos("server", ready=False)
    deadline = time.monotonic() + 30
    codes = set()
    while time.monotonic() < deadline and 200 not in codes:
        try:
            codes.add(proc.client.get("/-/ready").status_code)
        except httpx.HTTPError:
            time.sleep(0.05)
    assert codes <= {200, 503} and 200 in codes
    assert proc.stop() == 0
