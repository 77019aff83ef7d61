"""Receiver integrations: Slack default templates, PagerDuty v2, email over SMTP (aiosmtpd:
plain with AUTH, and STARTTLS), all delivered to local servers on 127.0.0.1."""

from __future__ import annotations

import email
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from am_helpers import Receiver, alert

from pharos.alertmanager.clock import FakeClock
from pharos.alertmanager.core import Alertmanager


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """An aiosmtpd handler keeping received messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append((envelope, email.message_from_bytes(raw)))
        return "250 OK"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"am" and data.password == b"secret"
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def smtp_plain() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), _free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                     auth_require_tls=False)
    ctl.start()
    yield box, port
    ctl.stop()


@pytest.fixture
def smtp_tls(tmp_path: Path) -> Iterator[tuple[Mailbox, int]]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    box, port = Mailbox(), _free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                     authenticator=_authenticator)
    ctl.start()
    yield box, port
    ctl.stop()


async def _flush_one(am: Alertmanager, clock: FakeClock, **labels: str) -> None:
    am.put_alerts([alert(clock, ago=60, **labels)])
    await am.dispatcher.run_due()


async def test_slack_default_templates(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                       receiver: Receiver) -> None:
    am = make_am(f"""
global:
  slack_api_url: {receiver.url}/slack
route: {{receiver: chat, group_by: [alertname]}}
receivers:
  - name: chat
    slack_configs:
      - channel: '#ops'
""")
    await _flush_one(am, clock, alertname="DiskFull", instance="db1", severity="page")
    (body,) = receiver.on("/slack")
    assert body == {
        "channel": "#ops",
        "username": "Alertmanager",
        "attachments": [{
            "title": "[FIRING:1] DiskFull (db1 page)",
            "title_link": "http://pharos.test/#/alerts?receiver=chat",
            "text": "",
            "fallback": "[FIRING:1] DiskFull (db1 page) | http://pharos.test/#/alerts?receiver=chat",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }],
    }


async def test_slack_custom_templates_file(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                           receiver: Receiver, tmp_path: Path) -> None:
    (tmp_path / "my.tmpl").write_text(
        '{{ define "my.text" }}{{ range .Alerts }}* {{ .Labels.instance }}: {{ .Annotations.summary }}\n'
        '{{ end }}{{ end }}')
    cfg = tmp_path / "am.yml"
    cfg.write_text(f"""
templates: ['*.tmpl']
route: {{receiver: chat}}
receivers:
  - name: chat
    slack_configs:
      - api_url: {receiver.url}/slack
        title: '{{{{ .CommonLabels.alertname | toLower }}}} on {{{{ .GroupLabels.SortedPairs.Values | join "," }}}}'
        text: '{{{{ template "my.text" . }}}}'
""")
    from pharos.alertmanager.config import load_file

    am = Alertmanager(load_file(cfg), tmp_path / "state", clock=clock)
    await _flush_one(am, clock, alertname="Up", instance="h1")
    await am.pipeline.close()
    att = receiver.on("/slack")[0]["attachments"][0]
    assert att["title"] == "up on "
    assert att["text"] == "* h1: s\n"


async def test_pagerduty_events_v2(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                   receiver: Receiver) -> None:
    am = make_am(f"""
global:
  pagerduty_url: {receiver.url}/pd
route: {{receiver: pager, group_by: [alertname]}}
receivers:
  - name: pager
    pagerduty_configs:
      - routing_key: rk1
        severity: critical
""")
    await _flush_one(am, clock, alertname="Down", instance="a")
    am.put_alerts([alert(clock, ends_in=0, alertname="Down", instance="a")])
    clock.advance(300)
    await am.dispatcher.run_due()
    trigger, resolve = receiver.on("/pd")
    assert trigger["event_action"] == "trigger" and resolve["event_action"] == "resolve"
    assert trigger["routing_key"] == "rk1" and trigger["dedup_key"] == resolve["dedup_key"]
    assert len(trigger["dedup_key"]) == 64
    payload = trigger["payload"]
    assert payload["summary"] == "[FIRING:1] Down (a)"
    assert payload["severity"] == "critical" and payload["source"] == "Alertmanager"
    assert payload["custom_details"]["num_firing"] == "1"
    assert "- instance = a" in payload["custom_details"]["firing"]
    assert trigger["client_url"] == "http://pharos.test/#/alerts?receiver=pager"


async def test_email_plain_with_auth(make_am: Callable[..., Alertmanager], clock: FakeClock,
                                     smtp_plain: tuple[Mailbox, int]) -> None:
    box, port = smtp_plain
    am = make_am(f"""
global:
  smtp_smarthost: 127.0.0.1:{port}
  smtp_from: am@example.org
  smtp_require_tls: false
  smtp_auth_username: am
  smtp_auth_password: secret
route: {{receiver: mail, group_by: [alertname]}}
receivers:
  - name: mail
    email_configs:
      - to: ops@example.org, dev@example.org
        headers: {{X-Team: ops}}
""")
    await _flush_one(am, clock, alertname="Down", instance="a")
    (envelope, msg), = box.messages
    assert envelope.mail_from == "am@example.org"
    assert sorted(envelope.rcpt_tos) == ["dev@example.org", "ops@example.org"]
    assert msg["Subject"] == "[FIRING:1] Down (a)"
    assert msg["X-Team"] == "ops"
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_payload(decode=True)
    assert b"[1] Firing" in html and b"instance = a" in html


async def test_email_wrong_password_is_a_failed_notification(
        make_am: Callable[..., Alertmanager], clock: FakeClock, smtp_plain: tuple[Mailbox, int]) -> None:
    box, port = smtp_plain
    am = make_am(f"""
route: {{receiver: mail}}
receivers:
  - name: mail
    email_configs:
      - to: ops@example.org
        from: am@example.org
        smarthost: 127.0.0.1:{port}
        require_tls: false
        auth_username: am
        auth_password: wrong
""")
    await _flush_one(am, clock, alertname="Down")
    assert box.messages == []
    assert len(am.nflog) == 0


async def test_email_starttls(make_am: Callable[..., Alertmanager], clock: FakeClock,
                              smtp_tls: tuple[Mailbox, int]) -> None:
    box, port = smtp_tls
    am = make_am(f"""
route: {{receiver: mail}}
receivers:
  - name: mail
    email_configs:
      - to: ops@example.org
        from: am@example.org
        smarthost: 127.0.0.1:{port}
        auth_username: am
        auth_password: secret
        tls_config: {{insecure_skip_verify: true}}
        text: 'plain {{{{ .Status }}}}'
""")
    await _flush_one(am, clock, alertname="Down")
    (_, msg), = box.messages
    text = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert text.strip() == b"plain firing"
