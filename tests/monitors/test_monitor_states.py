"""Monitor semantics on a fake clock: thresholds with recovery, no data, delays, renotify,
composite logic, mutes and message templates."""

from __future__ import annotations

import pytest
from monitor_helpers import MIN, Harness

from pharos.monitors.manager import MonitorError


def cpu_monitor(h: Harness, **extra: object) -> None:
    h.add(name="cpu", type="metric", query="cpu", group_by=extra.pop("group_by", []),
          thresholds={"critical": 90, "critical_recovery": 70, "warning": 80, "warning_recovery": 60}, **extra)


def test_recovery_thresholds_give_hysteresis() -> None:
    h = Harness()
    cpu_monitor(h)
    seen = []
    for value in (50, 85, 95, 85, 75, 65, 85, 55):
        h.sources.set("cpu", value)
        h.step()
        seen.append(h.state("cpu"))
    assert seen == ["OK", "WARN", "ALERT", "ALERT", "ALERT", "WARN", "WARN", "OK"]
    hist = [(t.from_state.value, t.to_state.value) for t in h.manager.get("cpu").history]
    assert hist == [("OK", "WARN"), ("WARN", "ALERT"), ("ALERT", "WARN"), ("WARN", "OK")]


def test_alert_labels_severity_and_resolution() -> None:
    h = Harness()
    cpu_monitor(h, labels={"team": "db"}, message="{{ $labels.host }} at {{ $value }} over {{ $threshold }}",
                group_by=["host"])
    h.sources.set("cpu", 85, host="a", job="x")
    h.step()
    (warn,) = h.firing()
    assert warn.labels == {"alertname": "cpu", "severity": "warning", "monitor_type": "metric", "host": "a",
                           "team": "db"}
    assert warn.annotations["message"] == "a at 85 over 80"
    h.sources.set("cpu", 95, host="a")
    h.step()
    sent = {a.labels["severity"]: a for a in h.last_alerts()}
    assert sent["critical"].ends_ms > h.now and sent["warning"].ends_ms == h.now  # warning resolved
    assert sent["critical"].annotations["message"] == "a at 95 over 90"
    h.sources.set("cpu", 10, host="a")
    h.step()
    assert [(a.labels["severity"], a.ends_ms == h.now) for a in h.last_alerts()] == [("critical", True)]
    h.step()
    assert h.last_alerts() == [] or all(a.ends_ms == h.now - MIN for a in h.last_alerts())


def test_below_comparison() -> None:
    h = Harness()
    h.add(name="free", type="metric", query="free", comparison="below",
          thresholds={"critical": 10, "critical_recovery": 20})
    states = []
    for value in (50, 5, 15, 25):
        h.sources.set("free", value)
        h.step()
        states.append(h.state("free"))
    assert states == ["OK", "ALERT", "ALERT", "OK"]


def test_no_data_after_the_timeframe_and_back() -> None:
    h = Harness()
    h.add(name="up", type="metric", query="up", notify_no_data=True, no_data_timeframe="5m",
          thresholds={"critical": 0.5}, comparison="below")
    h.sources.set("up", 1)
    h.step()
    h.sources.set("up", None)
    states = []
    for _ in range(6):
        h.step()
        states.append(h.state("up"))
    assert states == ["OK"] * 4 + ["NO DATA"] * 2
    (alert,) = h.firing()
    assert alert.labels["nodata"] == "true" and alert.labels["severity"] == "critical"
    h.sources.set("up", 1)
    h.step()
    assert h.state("up") == "OK" and h.firing() == []


def test_no_data_for_a_monitor_that_never_had_data() -> None:
    h = Harness()
    h.add(name="up", type="metric", query="up", notify_no_data=True, no_data_timeframe="3m",
          thresholds={"critical": 1})
    for _ in range(4):
        h.step()
    assert h.state("up") == "NO DATA"


def test_vanished_group_is_forgotten_without_notify_no_data() -> None:
    h = Harness()
    cpu_monitor(h, group_by=["host"], no_data_timeframe="2m")
    h.sources.set_many("cpu", [({"host": "a"}, 95), ({"host": "b"}, 10)])
    h.step()
    assert h.states("cpu") == {(("host", "a"),): "ALERT", (("host", "b"),): "OK"}
    h.sources.set_many("cpu", [({"host": "b"}, 10)])
    h.step()
    assert h.states("cpu")[(("host", "a"),)] == "ALERT"  # within the timeframe: kept
    h.step()
    assert h.states("cpu") == {(("host", "b"),): "OK"}
    assert [(a.labels["host"], a.ends_ms == h.now) for a in h.last_alerts()] == [("a", True)]


def test_new_group_delay() -> None:
    h = Harness()
    cpu_monitor(h, group_by=["host"], new_group_delay="5m")
    h.sources.set_many("cpu", [({"host": "a"}, 95)])
    for _ in range(5):  # first seen at the first step, judged from five minutes later
        h.step()
        assert h.states("cpu") == {(("host", "a"),): "OK"}
        assert h.firing() == []
    h.step()
    assert h.states("cpu") == {(("host", "a"),): "ALERT"}
    assert [a.labels["host"] for a in h.firing()] == ["a"]


def test_evaluation_delay_shifts_the_query_time() -> None:
    h = Harness()
    cpu_monitor(h, evaluation_delay="90s")
    h.step()
    assert h.sources.asked == [h.now - 90_000]


def test_interval_decides_when_a_monitor_is_due() -> None:
    h = Harness()
    cpu_monitor(h, interval="5m")
    for _ in range(10):
        h.step()
    assert len(h.sources.asked) == 2


def test_renotify_interval_cap_and_escalation() -> None:
    h = Harness()
    cpu_monitor(h, renotify_interval="10m", renotify_occurrences=2,
                escalation_message="still {{ $value }} ({{ .Occurrence }})")
    h.sources.set("cpu", 95)
    for _ in range(60):
        h.step()
    notes = list(h.manager.get("cpu").notifications)
    assert [(n.kind, n.occurrence) for n in notes] == [("trigger", 0), ("renotify", 1), ("renotify", 2)]
    assert notes[1].at_ms - notes[0].at_ms == 10 * MIN
    assert notes[2].message == "still 95 (2)"
    (alert,) = h.firing()
    assert alert.labels["renotify"] == "2" and alert.annotations["escalation"] == "still 95 (2)"
    h.sources.set("cpu", 10)
    h.step()
    assert h.manager.get("cpu").notifications[-1].kind == "recover"


def test_renotify_without_cap_keeps_going() -> None:
    h = Harness()
    cpu_monitor(h, renotify_interval="10m")
    h.sources.set("cpu", 95)
    for _ in range(60):
        h.step()
    kinds = [n.kind for n in h.manager.get("cpu").notifications]
    assert kinds.count("renotify") == 5


@pytest.mark.parametrize(("a", "b", "c", "expected"), [
    ("ALERT", "ALERT", "OK", "ALERT"),
    ("ALERT", "OK", "OK", "ALERT"),      # !c
    ("ALERT", "OK", "ALERT", "OK"),
    ("OK", "ALERT", "OK", "OK"),
    ("WARN", "ALERT", "OK", "WARN"),
    ("ALERT", "WARN", "ALERT", "WARN"),
])
def test_composite_logic(a: str, b: str, c: str, expected: str) -> None:
    h = Harness()
    level = {"OK": 0, "WARN": 85, "ALERT": 95}
    for name in ("a", "b", "c"):
        h.add(name=name, type="metric", query=name, thresholds={"critical": 90, "warning": 80})
    h.add(name="combo", type="composite", query="a && (b || !c)")
    for name, state in (("a", a), ("b", b), ("c", c)):
        h.sources.set(name, level[state])
    h.step()
    assert [h.state(n) for n in "abc"] == [a, b, c]
    assert h.state("combo") == expected


def test_composite_references_are_checked() -> None:
    h = Harness()
    h.add(name="a", type="metric", query="a", thresholds={"critical": 1})
    with pytest.raises(MonitorError, match="unknown monitors: b"):
        h.add(name="combo", type="composite", query="a || b")
    h.add(name="combo", type="composite", query="a || !a")
    with pytest.raises(MonitorError, match="used by composite"):
        h.manager.delete("a")


def test_mute_with_end_time_resolves_then_refires() -> None:
    h = Harness()
    cpu_monitor(h)
    h.sources.set("cpu", 95)
    h.step()
    assert len(h.firing()) == 1
    h.manager.mute("cpu", h.now + 3 * MIN)
    assert h.firing() == []
    h.step()
    assert h.firing() == [] and h.state("cpu") == "ALERT"
    h.step(2)
    assert len(h.firing()) == 1 and not h.manager.get("cpu").muted


def test_log_monitor_thresholds() -> None:
    h = Harness()
    h.add(name="errors", type="log", query='sum(count_over_time({app="api"} |= "error" [5m]))',
          thresholds={"critical": 10})
    h.sources.logs['sum(count_over_time({app="api"} |= "error" [5m]))'] = [({}, 12.0)]
    h.step()
    assert h.state("errors") == "ALERT"
    assert h.firing()[0].labels["monitor_type"] == "log"


def test_template_errors_render_in_the_message() -> None:
    h = Harness()
    cpu_monitor(h, message="{{ template \"missing\" . }}")
    h.sources.set("cpu", 95)
    h.step()
    assert h.firing()[0].annotations["message"].startswith("<error expanding template")
