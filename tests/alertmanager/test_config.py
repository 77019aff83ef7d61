"""alertmanager.yml loading: defaults, inheritance, file:line errors, warnings; matchers and
time intervals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from pharos.alertmanager.config import load_file, parse_text, resolve
from pharos.alertmanager.matchers import MatcherError, parse_matcher, parse_matchers
from pharos.alertmanager.model import fingerprint, fp_hex
from pharos.alertmanager.timeinterval import parse_interval
from pharos.config.loader import ConfigError, parse_config

GOOD = """\
global:
  resolve_timeout: 1m
  smtp_smarthost: mail:25
  smtp_from: am@example.org
route:
  receiver: a
  group_by: [alertname]
  group_wait: 10s
  routes:
    - receiver: b
      match: {team: x}
      group_interval: 1m
      routes:
        - receiver: a
          group_by: ['...']
receivers:
  - name: a
    email_configs: [{to: x@example.org}]
  - name: b
"""


def test_defaults_and_inheritance() -> None:
    cfg = parse_text(GOOD)
    assert cfg.global_.resolve_timeout == 60
    root = cfg.route
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (10, 300, 14400)
    child = root.routes[0]
    assert child.group_by == ["alertname"] and child.group_wait == 10 and child.group_interval == 60
    grandchild = child.routes[0]
    assert grandchild.group_by_all and grandchild.group_interval == 60
    email = cfg.receivers["a"].integrations[0]
    assert email.settings["smarthost"] == "mail:25" and email.settings["from"] == "am@example.org"
    assert email.send_resolved is False


@pytest.mark.parametrize(("text", "expected"), [
    ("route: {receiver: nope}\nreceivers: [{name: a}]\n",
     'am.yml:1: route.receiver: undefined receiver "nope" used in route'),
    ("route:\n  receiver: a\n  routes:\n    - receiver: a\n      matchers: ['x=~\"(\"']\nreceivers: [{name: a}]\n",
     "am.yml:5: route.routes[0].matchers[0]: error parsing regexp"),
    ("route: {receiver: a}\nreceivers:\n  - name: a\n  - name: a\n",
     'am.yml:4: receivers[1].name: notification config name "a" is not unique'),
    ("route: {receiver: a}\nreceivers:\n  - name: a\n    webhook_configs: [{send_resolved: true}]\n",
     "am.yml:4: receivers[0].webhook_configs[0]: one of url or url_file must be configured"),
    ("route: {receiver: a}\nreceivers:\n  - name: a\n    slack_configs: [{channel: x}]\n",
     "receivers[0].slack_configs[0]: no global Slack API URL set"),
    ("route: {receiver: a}\nreceivers:\n  - name: a\n    email_configs: [{to: x}]\n",
     "no global SMTP smarthost set"),
    ("route:\n  receiver: a\n  group_wait: soon\nreceivers: [{name: a}]\n",
     "am.yml:3: route.group_wait: not a valid duration string"),
    ("route:\n  receiver: a\n  routes:\n    - mute_time_intervals: [x]\nreceivers: [{name: a}]\n",
     'am.yml:4: route.routes[0].mute_time_intervals[0]: undefined time interval "x" used in route'),
    ("route: {receiver: a, matchers: [a=b]}\nreceivers: [{name: a}]\n", "root route must not have any matchers"),
    ("receivers: [{name: a}]\n", "no routes provided"),
    ("route:\n  receiver: a\n  group_by: [a, '...']\nreceivers: [{name: a}]\n", "wildcard group_by"),
    ("route: {receiver: a}\nreceivers: [{name: a}]\ntime_intervals:\n  - name: t\n    time_intervals:\n"
     "      - times: [{start_time: '10:00', end_time: '09:00'}]\n",
     "am.yml:6: time_intervals[0].time_intervals[0].times[0]: start time cannot be equal or greater"),
    ("route: {receiver: a\n", "am.yml:2: invalid YAML"),
])
def test_errors_name_file_line_and_reason(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_text(text, "am.yml")
    assert expected in info.value.messages[0]


def test_unknown_fields_warn() -> None:
    cfg = parse_text("route: {receiver: a, grup_by: [x]}\nreceivers:\n  - name: a\n    opsgenie_configs: []\n",
                     "am.yml")
    assert cfg.warnings == ["am.yml:1: route.grup_by: not supported by pharos, ignored"]


def test_section_of_pharos_yml_locates_errors(tmp_path: Path) -> None:
    path = tmp_path / "pharos.yml"
    path.write_text("storage: {}\nalertmanager:\n  route:\n    receiver: missing\n  receivers: [{name: a}]\n")
    loaded = parse_config(path.read_text(), str(path))
    loaded.path = path
    with pytest.raises(ConfigError) as info:
        resolve(loaded, None)
    assert info.value.messages == [f'{path}:4: alertmanager.route.receiver: undefined receiver "missing" used in route']
    am_file = tmp_path / "am.yml"
    am_file.write_text("route: {receiver: a}\nreceivers: [{name: a}]\n")
    assert list(resolve(loaded, am_file).receivers) == ["a"]
    assert list(resolve(parse_config(""), None).receivers) == ["default"]
    assert load_file(am_file).original == am_file.read_text()


def test_matcher_parsing() -> None:
    assert str(parse_matcher('foo = "bar"')) == 'foo="bar"'
    assert str(parse_matcher("foo=~bar.*")) == 'foo=~"bar.*"'
    ms = parse_matchers('{a="x, y", b!~"c|d", e!=""}')
    assert [(m.name, m.op, m.value) for m in ms] == [("a", "=", "x, y"), ("b", "!~", "c|d"), ("e", "!=", "")]
    assert parse_matcher(r'a="q\"uote\\d\n"').value == 'q"uote\\d\n'
    m = parse_matcher('sev=~"crit|page"')
    assert m.matches("crit") and not m.matches("critical") and not m.matches("")
    assert parse_matcher('x!~"a.*"').matches("b")
    with pytest.raises(MatcherError, match="unescaped double quote"):
        parse_matcher('a="b"c"')
    with pytest.raises(MatcherError, match="bad matcher format"):
        parse_matcher("9a=b")


def test_fingerprint_matches_alertmanager() -> None:
    # value printed by the real Alertmanager 0.25 for these labels
    assert fp_hex(fingerprint({"alertname": "foo", "team": "a"})) == "93905547278d6b68"


def test_time_interval_contains() -> None:
    ti = parse_interval({"times": [{"start_time": "09:00", "end_time": "17:00"}],
                         "weekdays": ["monday:friday"], "days_of_month": ["-7:-1"],
                         "months": ["january"], "years": ["2024"], "location": "Europe/Berlin"})
    assert ti.contains(datetime(2024, 1, 31, 8, 0, tzinfo=UTC))  # Wednesday 09:00 in Berlin
    assert not ti.contains(datetime(2024, 1, 31, 7, 59, tzinfo=UTC))
    assert not ti.contains(datetime(2024, 1, 24, 10, 0, tzinfo=UTC))  # not in the last week
    assert not ti.contains(datetime(2024, 1, 27, 10, 0, tzinfo=UTC))  # Saturday
    assert not ti.contains(datetime(2025, 1, 31, 10, 0, tzinfo=UTC))
