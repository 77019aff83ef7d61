"""Receiver integrations: webhook (v4 payload), Slack incoming webhook, email (SMTP), PagerDuty v2.

Each integration turns template data into one request. Failures raise NotifyError; `retry`
says whether trying again may help (network errors, 5xx, 429), as Alertmanager decides.
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

import aiohttp
import orjson

from pharos import __version__
from pharos.alertmanager.config import Integration
from pharos.alertmanager.model import Alert
from pharos.alertmanager.templates import Data, Templates

USER_AGENT = f"Alertmanager/0.25.0 (pharos {__version__})"
TIMEOUT_S = 30.0


class NotifyError(Exception):
    """A failed delivery; `retry` is True when another attempt may succeed."""

    def __init__(self, message: str, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


class Context(Protocol):
    """What an integration needs from the pipeline."""

    templates: Templates

    def session(self) -> aiohttp.ClientSession:
        """The shared HTTP client session."""


async def send(ctx: Context, integ: Integration, data: Data, group_key: str, alerts: list[Alert]) -> None:
    """Deliver one notification through the integration (NotifyError on failure)."""
    sender = _SENDERS[integ.kind]
    await sender(ctx, integ.settings, data, group_key, alerts)


# ---------------------------------------------------------------------------------------------
# HTTP helpers
# ---------------------------------------------------------------------------------------------

def _http_kwargs(http_config: dict[str, Any]) -> dict[str, Any]:
    """aiohttp request options from an Alertmanager `http_config` (auth and TLS verification)."""
    kw: dict[str, Any] = {}
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
    basic = http_config.get("basic_auth") or {}
    if basic.get("username"):
        kw["auth"] = aiohttp.BasicAuth(str(basic["username"]), str(basic.get("password") or ""))
    auth = http_config.get("authorization") or {}
    token = auth.get("credentials") or http_config.get("bearer_token")
    if token:
        headers["Authorization"] = f"{auth.get('type') or 'Bearer'} {token}"
    if (http_config.get("tls_config") or {}).get("insecure_skip_verify"):
        kw["ssl"] = False
    kw["headers"] = headers
    return kw


async def post_json(ctx: Context, url: str, body: Any, http_config: dict[str, Any]) -> str:
    """POST a JSON body; 2xx returns the response text, other answers raise NotifyError."""
    try:
        async with ctx.session().post(
            url, data=orjson.dumps(body), timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
            **_http_kwargs(http_config),
        ) as resp:
            text = await resp.text(errors="replace")
            if 200 <= resp.status < 300:
                return text
            retry = resp.status >= 500 or resp.status == 429
            raise NotifyError(f"unexpected status code {resp.status}: {url}: {text[:200]}", retry)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        raise NotifyError(f"{url}: {exc or type(exc).__name__}", True) from None


def _read_secret_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as exc:
        raise NotifyError(f"cannot read {path}: {exc}", False) from None


# ---------------------------------------------------------------------------------------------
# Webhook
# ---------------------------------------------------------------------------------------------

def webhook_payload(data: Data, group_key: str, max_alerts: int = 0) -> dict[str, Any]:
    """Alertmanager's webhook v4 message."""
    body = data.to_json()
    truncated = 0
    if max_alerts and len(body["alerts"]) > max_alerts:
        truncated = len(body["alerts"]) - max_alerts
        body["alerts"] = body["alerts"][:max_alerts]
    body.update(version="4", groupKey=group_key, truncatedAlerts=truncated)
    return body


async def _webhook(ctx: Context, s: dict[str, Any], data: Data, group_key: str, _: list[Alert]) -> None:
    url = s["url"] or _read_secret_file(s["url_file"])
    await post_json(ctx, url, webhook_payload(data, group_key, s["max_alerts"]), s["http_config"])


# ---------------------------------------------------------------------------------------------
# Slack
# ---------------------------------------------------------------------------------------------

_SLACK_DEFAULTS = {
    "username": '{{ template "slack.default.username" . }}',
    "color": '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}',
    "title": '{{ template "slack.default.title" . }}',
    "title_link": '{{ template "slack.default.titlelink" . }}',
    "pretext": '{{ template "slack.default.pretext" . }}',
    "text": '{{ template "slack.default.text" . }}',
    "footer": '{{ template "slack.default.footer" . }}',
    "fallback": '{{ template "slack.default.fallback" . }}',
    "callback_id": '{{ template "slack.default.callbackid" . }}',
    "icon_emoji": '{{ template "slack.default.iconemoji" . }}',
    "icon_url": '{{ template "slack.default.iconurl" . }}',
    "channel": "",
    "image_url": "",
    "thumb_url": "",
}
_ATTACHMENT_KEYS = ("title", "title_link", "pretext", "text", "fallback", "callback_id", "image_url",
                    "thumb_url", "footer", "color")
_ATTACHMENT_ALWAYS = ("text", "fallback")


def slack_payload(templates: Templates, s: dict[str, Any], data: Data) -> dict[str, Any]:
    """The Slack request body as Alertmanager builds it (empty optional fields omitted)."""
    def field(key: str) -> str:
        return templates.render(s.get(key, _SLACK_DEFAULTS[key]), data)

    att: dict[str, Any] = {}
    for key in _ATTACHMENT_KEYS:
        value = field(key)
        if key == "title":
            value = value[:1024]
        if value or key in _ATTACHMENT_ALWAYS:
            att[key] = value
    fields = [{"title": templates.render(str(f.get("title", "")), data),
               "value": templates.render(str(f.get("value", "")), data),
               "short": bool(f.get("short", s.get("short_fields")))} for f in s.get("fields") or []]
    if fields:
        att["fields"] = fields
    att["mrkdwn_in"] = s.get("mrkdwn_in") or ["fallback", "pretext", "text"]
    req: dict[str, Any] = {}
    for key in ("channel", "username", "icon_emoji", "icon_url"):
        value = field(key)
        if value:
            req[key] = value
    if s.get("link_names"):
        req["link_names"] = True
    req["attachments"] = [att]
    return req


async def _slack(ctx: Context, s: dict[str, Any], data: Data, _: str, __: list[Alert]) -> None:
    url = s["api_url"] or _read_secret_file(s["api_url_file"])
    await post_json(ctx, url, slack_payload(ctx.templates, s, data), s["http_config"])


# ---------------------------------------------------------------------------------------------
# PagerDuty Events API v2
# ---------------------------------------------------------------------------------------------

_PD_DETAILS = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


def pagerduty_payload(templates: Templates, s: dict[str, Any], data: Data, group_key: str) -> dict[str, Any]:
    """An Events API v2 message (trigger while anything fires, else resolve)."""
    def render(key: str, default: str) -> str:
        return templates.render(s.get(key) or default, data)

    action = "trigger" if data.Status == "firing" else "resolve"
    msg: dict[str, Any] = {
        "routing_key": s.get("routing_key") or s.get("service_key"),
        "dedup_key": hashlib.sha256(group_key.encode()).hexdigest(),
        "event_action": action,
        "client": render("client", '{{ template "pagerduty.default.client" . }}'),
        "client_url": render("client_url", '{{ template "pagerduty.default.clientURL" . }}'),
    }
    if action == "trigger":
        details = {k: templates.render(v, data) for k, v in {**_PD_DETAILS, **s.get("details", {})}.items()}
        payload = {
            "summary": render("description", '{{ template "pagerduty.default.description" .}}')[:1024],
            "source": render("client", '{{ template "pagerduty.default.client" . }}'),
            "severity": render("severity", "error"),
            "custom_details": details,
        }
        for key in ("class", "component", "group"):
            if s.get(key):
                payload[key] = render(key, "")
        msg["payload"] = payload
    return msg


async def _pagerduty(ctx: Context, s: dict[str, Any], data: Data, group_key: str, _: list[Alert]) -> None:
    await post_json(ctx, s["url"], pagerduty_payload(ctx.templates, s, data, group_key), s["http_config"])


# ---------------------------------------------------------------------------------------------
# Email
# ---------------------------------------------------------------------------------------------

def email_message(templates: Templates, s: dict[str, Any], data: Data) -> EmailMessage:
    """The MIME message: Subject/To/From headers (templated), text and HTML alternatives."""
    msg = EmailMessage()
    headers = {"Subject": '{{ template "email.default.subject" . }}', "To": s["to"], "From": s["from"],
               **s.get("headers", {})}
    for name, value in headers.items():
        msg[name] = templates.render(value, data)
    msg["Message-Id"] = make_msgid(str(uuid.uuid4().int)[:12])
    msg["Date"] = formatdate(time.time())
    text = templates.render(s["text"], data) if s.get("text") else ""
    html = templates.render(s["html"] or '{{ template "email.default.html" . }}', data)
    msg.set_content(text or " ")
    msg.add_alternative(html, subtype="html")
    return msg


def _smtp_send(s: dict[str, Any], msg: EmailMessage) -> None:
    """Blocking SMTP delivery: implicit TLS on 465, else STARTTLS when offered (required by default)."""
    host, _, port = s["smarthost"].rpartition(":")
    tls = s.get("tls_config") or {}
    context = ssl.create_default_context()
    if tls.get("insecure_skip_verify"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    smtp_cls = smtplib.SMTP_SSL if port == "465" else smtplib.SMTP
    kwargs: dict[str, Any] = {"context": context} if port == "465" else {}
    with smtp_cls(host, int(port), local_hostname=s["hello"], timeout=TIMEOUT_S, **kwargs) as smtp:
        smtp.ehlo(s["hello"])
        if port != "465":
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo(s["hello"])
            elif s.get("require_tls", True):
                raise NotifyError(f"'require_tls' is true (default) but {s['smarthost']} does not "
                                  "advertise the STARTTLS extension", False)
        if s.get("auth_username") and smtp.has_extn("auth"):
            _smtp_auth(smtp, s)
        recipients = [a.strip() for a in str(msg["To"]).split(",") if a.strip()]
        smtp.send_message(msg, from_addr=str(msg["From"]), to_addrs=recipients)


def _smtp_auth(smtp: smtplib.SMTP, s: dict[str, Any]) -> None:
    """One mechanism, as Alertmanager picks it: CRAM-MD5 with a secret, else PLAIN, else LOGIN."""
    offered = (smtp.esmtp_features.get("auth") or "").upper().split()
    smtp.user, smtp.password = s["auth_username"], s.get("auth_password") or s.get("auth_secret") or ""
    if "CRAM-MD5" in offered and s.get("auth_secret"):
        smtp.password = s["auth_secret"]
        smtp.auth("CRAM-MD5", smtp.auth_cram_md5)
    elif "PLAIN" in offered:
        smtp.auth("PLAIN", smtp.auth_plain)
    elif "LOGIN" in offered:
        smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
    else:
        raise NotifyError(f"no supported SMTP AUTH mechanism among {offered}", False)


async def _email(ctx: Context, s: dict[str, Any], data: Data, _: str, __: list[Alert]) -> None:
    msg = email_message(ctx.templates, s, data)
    try:
        await asyncio.to_thread(_smtp_send, s, msg)
    except NotifyError:
        raise
    except smtplib.SMTPResponseException as exc:
        raise NotifyError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", exc.smtp_code < 500) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(f"email to {s['smarthost']}: {exc}", True) from None


_SENDERS = {"webhook": _webhook, "slack": _slack, "pagerduty": _pagerduty, "email": _email}
