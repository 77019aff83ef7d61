"""The monitors HTTP API, persistence in the data dir, and `monitors:` in pharos.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from monitor_helpers import MIN, Harness

from pharos.config.loader import ConfigError, parse_config
from pharos.monitors.api import PREFIX, monitors_router
from pharos.monitors.model import MonitorConfig
from pharos.monitors.store import MonitorStore

CPU = {"name": "cpu", "type": "metric", "query": "cpu", "thresholds": {"critical": 90}}


def client_for(h: Harness, store: MonitorStore) -> TestClient:
    def save() -> None:
        store.save_definitions(list(h.manager.api_defs.values()), h.manager.mutes())

    h.manager.on_change = save
    app = FastAPI()
    app.include_router(monitors_router(lambda: h.manager))
    return TestClient(app)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Harness, MonitorStore, TestClient]:
    h = Harness()
    store = MonitorStore(tmp_path / "monitors")
    return h, store, client_for(h, store)


def test_create_get_update_delete(setup: tuple[Harness, MonitorStore, TestClient]) -> None:
    h, _, client = setup
    r = client.post(PREFIX, json=CPU)
    assert r.status_code == 201 and r.json()["source"] == "api"
    assert client.post(PREFIX, json=CPU).status_code == 409
    h.sources.set("cpu", 95)
    h.step()
    doc = client.get(f"{PREFIX}/cpu").json()
    assert doc["state"] == "ALERT" and doc["groups"][0]["value"] == 95
    assert client.get(PREFIX).json()["monitors"][0]["name"] == "cpu"
    r = client.put(f"{PREFIX}/cpu", json={**CPU, "thresholds": {"critical": 99}})
    assert r.status_code == 200 and r.json()["definition"]["thresholds"]["critical"] == 99
    h.step()
    assert client.get(f"{PREFIX}/cpu").json()["state"] == "OK"
    assert client.delete(f"{PREFIX}/cpu").status_code == 204
    assert client.get(f"{PREFIX}/cpu").status_code == 404


def test_validation_errors_name_the_key(setup: tuple[Harness, MonitorStore, TestClient]) -> None:
    _, _, client = setup
    r = client.post(PREFIX, json={**CPU, "query": "rate(x[5m]"})
    assert r.status_code == 400 and r.json()["error"].startswith("query: invalid PromQL query")
    r = client.post(PREFIX, json={**CPU, "thresholds": {"critical": 90, "warning": 95}})
    assert "thresholds.warning: warning must not be above critical" in r.json()["error"]
    r = client.post(PREFIX, content=b"{")
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]
    r = client.post(PREFIX, json={**CPU, "name": "team/cpu"})
    assert r.status_code == 400 and r.json()["error"].startswith("name: a monitor name cannot contain '/'")


def test_mute_with_end_and_history(setup: tuple[Harness, MonitorStore, TestClient]) -> None:
    h, _, client = setup
    client.post(PREFIX, json=CPU)
    h.sources.set("cpu", 95)
    h.step()
    end_s = (h.now + 2 * MIN) / 1000
    r = client.post(f"{PREFIX}/cpu/mute", json={"end": end_s})
    assert r.json()["muted"] is True and r.json()["mute_end"] is not None
    h.step(3)
    assert client.get(f"{PREFIX}/cpu").json()["muted"] is False
    client.post(f"{PREFIX}/cpu/mute", json={})
    assert client.get(f"{PREFIX}/cpu").json()["mute_end"] is None
    assert client.post(f"{PREFIX}/cpu/unmute").json()["muted"] is False
    hist = client.get(f"{PREFIX}/cpu/history").json()
    assert [(t["from"], t["to"]) for t in hist["transitions"]] == [("OK", "ALERT")]
    assert hist["notifications"][0]["kind"] == "trigger"


def test_api_monitors_persist(setup: tuple[Harness, MonitorStore, TestClient]) -> None:
    h, store, client = setup
    client.post(PREFIX, json=CPU)
    client.post(f"{PREFIX}/cpu/mute", json={"end": "2100-01-01T00:00:00Z"})
    h.sources.set("cpu", 95)
    h.step()
    store.save_state(h.manager.snapshot())
    again = Harness()
    defs, mutes = store.load_definitions()
    again.manager.load_api_monitors(defs, mutes)
    again.manager.restore(store.load_state())
    rt = again.manager.get("cpu")
    assert rt.source == "api" and rt.muted and rt.mute_end_ms == 4102444800000
    assert rt.groups[()].state.value == "ALERT" and len(rt.history) == 1


def test_config_monitors_are_read_only(setup: tuple[Harness, MonitorStore, TestClient]) -> None:
    h, _, client = setup
    h.manager.set_config_monitors([MonitorConfig.model_validate(CPU)])
    assert client.get(f"{PREFIX}/cpu").json()["source"] == "config"
    assert client.put(f"{PREFIX}/cpu", json=CPU).status_code == 403
    assert client.delete(f"{PREFIX}/cpu").status_code == 403
    assert client.post(PREFIX, json=CPU).status_code == 409
    assert client.post(f"{PREFIX}/cpu/mute").status_code == 200


CONFIG = """\
monitors:
  - name: cpu
    type: metric
    query: avg by (host) (rate(cpu_seconds_total[5m]))
    group_by: [host]
    thresholds: {critical: 0.9, critical_recovery: 0.7}
  - name: errors
    type: log
    query: sum(count_over_time({app="api"} |= "error" [5m]))
    thresholds: {critical: 10}
  - name: both
    type: composite
    query: cpu && errors
"""


def test_config_section_loads() -> None:
    loaded = parse_config(CONFIG)
    assert [m.name for m in loaded.config.monitors] == ["cpu", "errors", "both"]
    assert loaded.config.monitors[0].interval == 60.0


@pytest.mark.parametrize(("replace", "expected"), [
    (("critical_recovery: 0.7", "critical_recovery: 0.95"),
     "pharos.yml:6: monitors[0].thresholds.critical_recovery: critical_recovery must not be above critical"),
    (('sum(count_over_time({app="api"} |= "error" [5m]))', "'{app=\"api\"} |= \"error\"'"), "pharos.yml:9: monitors[1].query: a log monitor needs a LogQL metric"),
    (("query: cpu && errors", "query: cpu && nope"),
     "pharos.yml:13: monitors[2].query: composite refers to an unknown monitor 'nope'"),
    (("type: log", "type: logs"), "pharos.yml:8: monitors[1].type: Input should be"),
    (("    group_by: [host]\n", "    group_by: [host]\n    new_group_delay: 5\n"),
     None),
])
def test_config_errors_name_file_line_and_key(replace: tuple[str, str], expected: str | None) -> None:
    text = CONFIG.replace(*replace)
    if expected is None:
        with pytest.raises(ConfigError, match=r"monitors\[0\]\.new_group_delay"):
            parse_config(text)
        return
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert err.value.messages[0].startswith(expected), err.value.messages
