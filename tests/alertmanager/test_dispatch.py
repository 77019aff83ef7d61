"""Grouping, timers, repeat, resolution, inhibition, silences, time intervals, restarts and
retries, driven by a fake clock (no sleeps) with delivery to a local webhook receiver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from am_helpers import Receiver, alert

from pharos.alertmanager.clock import FakeClock
from pharos.alertmanager.core import Alertmanager
from pharos.alertmanager.matchers import parse_matchers
from pharos.alertmanager.silences import Silence

DAY = 86400.0


def config(url: str, extra_route: str = "", extra: str = "", send_resolved: str = "true") -> str:
    return f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
{extra_route}
receivers:
  - name: hook
    webhook_configs:
      - url: {url}/hook
        send_resolved: {send_resolved}
{extra}
"""


async def test_group_wait_groups_and_payload(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                             receiver: Receiver) -> None:
    am = make_am(config(receiver.url))
    am.put_alerts([alert(clock, alertname="A", instance="1", job="j"),
                   alert(clock, alertname="A", instance="2", job="j"),
                   alert(clock, alertname="B", instance="1", job="j")])
    assert await am.dispatcher.run_due() == 0
    clock.advance(29)
    assert await am.dispatcher.run_due() == 0
    clock.advance(1)
    assert await am.dispatcher.run_due() == 2
    bodies = {b["groupLabels"]["alertname"]: b for b in receiver.on("/hook")}
    a = bodies["A"]
    assert a["version"] == "4" and a["status"] == "firing" and a["receiver"] == "hook"
    assert a["groupKey"] == '{}:{alertname="A"}' and a["truncatedAlerts"] == 0
    assert a["commonLabels"] == {"alertname": "A", "job": "j"}
    assert a["commonAnnotations"] == {"summary": "s"}
    assert a["externalURL"] == "http://pharos.test"
    assert [x["labels"]["instance"] for x in a["alerts"]] == ["1", "2"]
    assert a["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert set(a["alerts"][0]) == {"status", "labels", "annotations", "startsAt", "endsAt",
                                   "generatorURL", "fingerprint"}
    assert list(a) == ["receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations",
                       "externalURL", "version", "groupKey", "truncatedAlerts"]


async def test_old_alert_flushes_immediately(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                             receiver: Receiver) -> None:
    am = make_am(config(receiver.url))
    am.put_alerts([alert(clock, ago=60, alertname="A")])
    assert await am.dispatcher.run_due() == 1
    assert len(receiver.on("/hook")) == 1


async def test_group_interval_and_repeat(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                         receiver: Receiver) -> None:
    am = make_am(config(receiver.url))
    am.put_alerts([alert(clock, ends_in=10 * DAY, alertname="A", instance="1")])
    clock.advance(30)
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 1
    clock.advance(60)
    am.put_alerts([alert(clock, ends_in=10 * DAY, alertname="A", instance="2")])
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 1  # new alert waits for group_interval
    clock.advance(240)
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 2
    assert len(receiver.on("/hook")[-1]["alerts"]) == 2
    flushes_until_repeat = 0
    while len(receiver.on("/hook")) == 2:
        clock.advance(300)
        await am.dispatcher.run_due()
        flushes_until_repeat += 1
    # last notification at 5m30s; the first flush more than 4h later is 49 intervals on
    assert flushes_until_repeat == 49


async def test_resolved_sent_once_then_group_removed(make_am: Callable[..., Alertmanager],
                                                     clock: FakeClock, receiver: Receiver) -> None:
    am = make_am(config(receiver.url))
    am.put_alerts([alert(clock, alertname="A", instance="1")])
    clock.advance(30)
    await am.dispatcher.run_due()
    am.put_alerts([alert(clock, ends_in=0, alertname="A", instance="1")])
    clock.advance(300)
    await am.dispatcher.run_due()
    bodies = receiver.on("/hook")
    assert [b["status"] for b in bodies] == ["firing", "resolved"]
    assert bodies[-1]["alerts"][0]["status"] == "resolved"
    assert bodies[-1]["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
    assert am.dispatcher.groups == {}
    clock.advance(300)
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 2


async def test_resolve_timeout_resolves_unrefreshed_alerts(
        make_am: Callable[..., Alertmanager], clock: FakeClock, receiver: Receiver) -> None:
    am = make_am(config(receiver.url))
    am.put_alerts([alert(clock, alertname="A")])  # no endsAt: resolve_timeout (5m) applies
    clock.advance(30)
    await am.dispatcher.run_due()
    clock.advance(300)
    await am.dispatcher.run_due()
    assert [b["status"] for b in receiver.on("/hook")] == ["firing", "resolved"]


async def test_send_resolved_false(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                   receiver: Receiver) -> None:
    am = make_am(config(receiver.url, send_resolved="false"))
    am.put_alerts([alert(clock, alertname="A", instance="1"), alert(clock, alertname="A", instance="2")])
    clock.advance(30)
    await am.dispatcher.run_due()
    am.put_alerts([alert(clock, ends_in=0, alertname="A", instance="1")])
    clock.advance(300)
    await am.dispatcher.run_due()  # one resolved, one still firing: nothing new to say
    am.put_alerts([alert(clock, ends_in=0, alertname="A", instance="2")])
    clock.advance(300)
    await am.dispatcher.run_due()
    assert [b["status"] for b in receiver.on("/hook")] == ["firing"]


async def test_inhibition(make_am: Callable[..., Alertmanager], clock: FakeClock, receiver: Receiver) -> None:
    extra = """
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
"""
    am = make_am(config(receiver.url, extra=extra).replace("group_by: [alertname]", "group_by: [cluster]"))
    am.put_alerts([alert(clock, ends_in=DAY, alertname="Down", severity="critical", cluster="x"),
                   alert(clock, ends_in=DAY, alertname="Slow", severity="warning", cluster="x"),
                   alert(clock, ends_in=DAY, alertname="Slow", severity="warning", cluster="y")])
    clock.advance(30)
    await am.dispatcher.run_due()
    sent = sorted((b["groupLabels"]["cluster"], a["labels"]["alertname"])
                  for b in receiver.on("/hook") for a in b["alerts"])
    assert sent == [("x", "Down"), ("y", "Slow")]
    inhibited = [a for a in am.active_alerts() if am.status(a).inhibited_by]
    assert [a.labels["cluster"] for a in inhibited] == ["x"]
    source = next(a for a in am.active_alerts() if a.labels["alertname"] == "Down")
    assert am.status(inhibited[0]).inhibited_by == [f"{source.fingerprint:016x}"]
    # the source resolves: the target is notified at the next flush
    am.put_alerts([alert(clock, ends_in=0, alertname="Down", severity="critical", cluster="x")])
    clock.advance(300)
    await am.dispatcher.run_due()
    last_x = [b for b in receiver.on("/hook") if b["groupLabels"]["cluster"] == "x"][-1]
    assert {a["labels"]["alertname"]: a["status"] for a in last_x["alerts"]} == {
        "Down": "resolved", "Slow": "firing"}


async def test_silences_mute_and_expire(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                        receiver: Receiver, tmp_path: Path) -> None:
    am = make_am(config(receiver.url))
    now = clock.now()
    sid = am.silences.set(Silence("", parse_matchers('instance=~"1|2"'), now, now + timedelta(hours=1),
                                  "me", "maintenance"))
    am.put_alerts([alert(clock, alertname="A", instance=i) for i in ("1", "2", "3")])
    clock.advance(30)
    await am.dispatcher.run_due()
    assert [a["labels"]["instance"] for a in receiver.on("/hook")[0]["alerts"]] == ["3"]
    assert [am.status(a).silenced_by for a in am.active_alerts() if a.labels["instance"] == "1"] == [[sid]]
    am.silences.expire(sid)
    am.put_alerts([alert(clock, alertname="A", instance=i) for i in ("1", "2", "3")])
    clock.advance(300)
    await am.dispatcher.run_due()
    assert [a["labels"]["instance"] for a in receiver.on("/hook")[-1]["alerts"]] == ["1", "2", "3"]
    # silences are persisted: a new store sees the expired silence
    again = make_am(config(receiver.url), state=tmp_path / "state")
    assert again.silences.get(sid).state(clock.now()) == "expired"


async def test_silence_update_in_place_or_replaced(make_am: Callable[..., Alertmanager],
                                                   clock: FakeClock, receiver: Receiver) -> None:
    am = make_am(config(receiver.url))
    now = clock.now()
    sid = am.silences.set(Silence("", parse_matchers("a=b"), now, now + timedelta(hours=1)))
    longer = Silence(sid, parse_matchers("a=b"), now, now + timedelta(hours=2), comment="longer")
    assert am.silences.set(longer) == sid
    changed = Silence(sid, parse_matchers("a=c"), now, now + timedelta(hours=2))
    new_id = am.silences.set(changed)
    assert new_id != sid
    assert am.silences.get(sid).state(clock.now()) == "expired"
    assert am.silences.get(new_id).state(clock.now()) == "active"


TIME_INTERVALS = """
time_intervals:
  - name: mondays
    time_intervals:
      - weekdays: [monday]
  - name: weekend
    time_intervals:
      - weekdays: [saturday, sunday]
"""


async def test_mute_and_active_time_intervals(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                              receiver: Receiver) -> None:
    routes = """  routes:
    - matchers: [team=a]
      receiver: hook
      mute_time_intervals: [mondays]
    - matchers: [team=b]
      receiver: hook
      active_time_intervals: [weekend]
"""
    clock.set(datetime(2024, 1, 15, 12, 0, tzinfo=UTC))  # a Monday
    am = make_am(config(receiver.url, extra_route=routes, extra=TIME_INTERVALS))
    am.put_alerts([alert(clock, ends_in=10 * DAY, alertname="A", team="a"),
                   alert(clock, ends_in=10 * DAY, alertname="B", team="b"),
                   alert(clock, ends_in=10 * DAY, alertname="C", team="c")])
    clock.advance(30)
    await am.dispatcher.run_due()
    assert [b["groupLabels"]["alertname"] for b in receiver.on("/hook")] == ["C"]
    clock.set(datetime(2024, 1, 20, 12, 0, 30, tzinfo=UTC))  # Saturday: both routes open
    await am.dispatcher.run_due()
    # A and B for the first time; C again because its repeat interval has passed
    assert sorted(b["groupLabels"]["alertname"] for b in receiver.on("/hook")[1:]) == ["A", "B", "C"]


async def test_restart_neither_loses_nor_repeats(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                                 receiver: Receiver, tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = make_am(config(receiver.url), state=state)
    first.put_alerts([alert(clock, ends_in=DAY, alertname="A")])
    clock.advance(30)
    await first.dispatcher.run_due()
    first.put_alerts([alert(clock, ends_in=DAY, alertname="B")])  # received, not yet notified
    await first.stop()
    assert len(receiver.on("/hook")) == 1
    second = make_am(config(receiver.url), state=state)
    clock.advance(30)
    await second.dispatcher.run_due()
    names = [b["groupLabels"]["alertname"] for b in receiver.on("/hook")]
    assert names == ["A", "B"]  # B delivered after the restart, A not repeated
    await second.stop()


async def test_retries_then_success_and_failure_kept(make_am: Callable[..., Alertmanager],
                                                     clock: FakeClock, receiver: Receiver) -> None:
    am = make_am(config(receiver.url))
    receiver.statuses = [503, 500]
    am.put_alerts([alert(clock, ends_in=DAY, alertname="A")])
    clock.advance(30)
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 3  # two failures, then delivered
    clock.advance(300)
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 3  # logged: no repeat before repeat_interval
    am.put_alerts([alert(clock, ends_in=DAY, alertname="A", instance="2")])
    receiver.statuses = [400]
    clock.advance(300)
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 4  # a 4xx is not retried ...
    clock.advance(300)
    await am.dispatcher.run_due()
    assert len(receiver.on("/hook")) == 5  # ... and not logged, so the next flush sends again


async def test_continue_routes_notify_each_receiver(make_am: Callable[..., Alertmanager],
                                                    clock: FakeClock, receiver: Receiver) -> None:
    text = f"""
route:
  receiver: one
  group_by: ['...']
  routes:
    - matchers: [team=a]
      receiver: one
      continue: true
    - matchers: [team=~"a|b"]
      receiver: two
receivers:
  - name: one
    webhook_configs: [{{url: "{receiver.url}/one"}}]
  - name: two
    webhook_configs: [{{url: "{receiver.url}/two", max_alerts: 1}}]
"""
    am = make_am(text)
    am.put_alerts([alert(clock, ago=60, alertname="X", team="a"), alert(clock, ago=60, alertname="Y", team="a")])
    await am.dispatcher.run_due()
    assert len(receiver.on("/one")) == 2  # group_by ...: one group per label set
    two = receiver.on("/two")
    assert len(two) == 2 and all(b["truncatedAlerts"] == 0 for b in two)
    assert {b["groupKey"] for b in two} == {'{}/{team=~"a|b"}:{alertname="X", team="a"}',
                                            '{}/{team=~"a|b"}:{alertname="Y", team="a"}'}
