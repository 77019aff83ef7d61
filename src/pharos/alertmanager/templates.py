"""Notification templates: Alertmanager's template data (`.Status`, `.Alerts.Firing`,
`.GroupLabels.SortedPairs.Values`, `.CommonLabels.Remove ...`), its function map, the default
templates (`slack.default.title`, `email.default.subject`, ...) and user `templates:` files,
rendered by pharos' Go-template interpreter (pharos.rules.template).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from pharos.alertmanager.model import ZERO_TIME, Alert, fp_hex

DEFAULT_TEMPLATES = r"""
{{ define "__alertmanager" }}Alertmanager{{ end }}
{{ define "__alertmanagerURL" }}{{ .ExternalURL }}/#/alerts?receiver={{ .Receiver | urlquery }}{{ end }}
{{ define "__subject" }}[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] {{ .GroupLabels.SortedPairs.Values | join " " }} {{ if gt (len .CommonLabels) (len .GroupLabels) }}({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}){{ end }}{{ end }}
{{ define "__description" }}{{ end }}
{{ define "__text_alert_list" }}{{ range . }}Labels:
{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Annotations:
{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Source: {{ .GeneratorURL }}
{{ end }}{{ end }}
{{ define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end }}
{{ define "slack.default.fallback" }}{{ template "slack.default.title" . }} | {{ template "slack.default.titlelink" . }}{{ end }}
{{ define "slack.default.callbackid" }}{{ end }}
{{ define "slack.default.pretext" }}{{ end }}
{{ define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{ define "slack.default.iconemoji" }}{{ end }}
{{ define "slack.default.iconurl" }}{{ end }}
{{ define "slack.default.text" }}{{ end }}
{{ define "slack.default.footer" }}{{ end }}
{{ define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end }}
{{ define "pagerduty.default.client" }}{{ template "__alertmanager" . }}{{ end }}
{{ define "pagerduty.default.clientURL" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{ define "pagerduty.default.instances" }}{{ template "__text_alert_list" . }}{{ end }}
{{ define "email.default.subject" }}{{ template "__subject" . }}{{ end }}
{{ define "email.default.html" }}<!DOCTYPE html>
<html><head><meta name="viewport" content="width=device-width"><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><title>{{ template "__subject" . }}</title></head>
<body>
<p>{{ .Alerts | len }} alert{{ if gt (len .Alerts) 1 }}s{{ end }} for {{ range .GroupLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}</p>
<p><a href="{{ template "__alertmanagerURL" . }}">View in {{ template "__alertmanager" . }}</a></p>
{{ if gt (len .Alerts.Firing) 0 }}<h3>[{{ .Alerts.Firing | len }}] Firing</h3>
{{ range .Alerts.Firing }}<p>Labels<br>{{ range .Labels.SortedPairs }}{{ .Name }} = {{ .Value }}<br>{{ end }}{{ if gt (len .Annotations) 0 }}Annotations<br>{{ end }}{{ range .Annotations.SortedPairs }}{{ .Name }} = {{ .Value }}<br>{{ end }}<a href="{{ .GeneratorURL }}">Source</a></p>
{{ end }}{{ end }}{{ if gt (len .Alerts.Resolved) 0 }}<h3>[{{ .Alerts.Resolved | len }}] Resolved</h3>
{{ range .Alerts.Resolved }}<p>Labels<br>{{ range .Labels.SortedPairs }}{{ .Name }} = {{ .Value }}<br>{{ end }}{{ if gt (len .Annotations) 0 }}Annotations<br>{{ end }}{{ range .Annotations.SortedPairs }}{{ .Name }} = {{ .Value }}<br>{{ end }}<a href="{{ .GeneratorURL }}">Source</a></p>
{{ end }}{{ end }}<p>Sent by {{ template "__alertmanager" . }}</p>
</body></html>
{{ end }}
"""


class Pair:
    """A label name and value (`.Name`, `.Value`)."""

    def __init__(self, name: str, value: str) -> None:
        self.Name = name
        self.Value = value


class Pairs(list[Pair]):
    """Sorted pairs with `.Names` and `.Values`."""

    def Names(self) -> list[str]:  # Go method name
        """The names, in order."""
        return [p.Name for p in self]

    def Values(self) -> list[str]:  # Go method name
        """The values, in order."""
        return [p.Value for p in self]


class KV(dict[str, str]):
    """Alertmanager's template.KV: a map whose methods win over keys of the same name."""

    _METHODS = ("SortedPairs", "Names", "Values", "Remove")

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        """Key lookup as the template interpreter does it; Go methods take precedence."""
        if key == "Remove":
            return self.Remove
        if key in self._METHODS:
            return getattr(self, key)()
        return super().get(key, default)

    def SortedPairs(self) -> Pairs:  # Go method name
        """The pairs sorted by name."""
        return Pairs(Pair(k, self[k]) for k in sorted(self))

    def Names(self) -> list[str]:  # Go method name
        """Sorted names."""
        return sorted(self)

    def Values(self) -> list[str]:  # Go method name
        """Values in name order."""
        return [self[k] for k in sorted(self)]

    def Remove(self, names: Iterable[str]) -> KV:  # Go method name
        """A copy without the given names."""
        drop = set(names)
        return KV({k: v for k, v in self.items() if k not in drop})


class TemplateAlert:
    """One alert as templates see it."""

    def __init__(self, alert: Alert, now: datetime) -> None:
        self.Status = alert.status(now)
        self.Labels = KV(alert.labels)
        self.Annotations = KV(alert.annotations)
        self.StartsAt = alert.starts_at
        self.EndsAt = alert.ends_at if alert.resolved_at(now) else ZERO_TIME
        self.GeneratorURL = alert.generator_url
        self.Fingerprint = fp_hex(alert.fingerprint)

    def to_json(self) -> dict[str, Any]:
        """The webhook payload form."""
        from pharos.alertmanager.model import go_time

        return {"status": self.Status, "labels": dict(self.Labels), "annotations": dict(self.Annotations),
                "startsAt": go_time(self.StartsAt), "endsAt": go_time(self.EndsAt),
                "generatorURL": self.GeneratorURL, "fingerprint": self.Fingerprint}


class TemplateAlerts(list[TemplateAlert]):
    """Alerts with `.Firing` and `.Resolved`."""

    def Firing(self) -> TemplateAlerts:  # Go method name
        """The firing alerts."""
        return TemplateAlerts(a for a in self if a.Status == "firing")

    def Resolved(self) -> TemplateAlerts:  # Go method name
        """The resolved alerts."""
        return TemplateAlerts(a for a in self if a.Status == "resolved")


class Data:
    """The `.` of a notification template."""

    def __init__(self, receiver: str, group_labels: Mapping[str, str], alerts: list[Alert],
                 now: datetime, external_url: str) -> None:
        self.Receiver = receiver
        self.Alerts = TemplateAlerts(TemplateAlert(a, now) for a in alerts)
        self.Status = "firing" if self.Alerts.Firing() else "resolved"
        self.GroupLabels = KV(group_labels)
        self.CommonLabels = KV(_common([a.labels for a in alerts]))
        self.CommonAnnotations = KV(_common([a.annotations for a in alerts]))
        self.ExternalURL = external_url

    def to_json(self) -> dict[str, Any]:
        """template.Data's JSON (the start of the webhook payload)."""
        return {"receiver": self.Receiver, "status": self.Status,
                "alerts": [a.to_json() for a in self.Alerts], "groupLabels": dict(self.GroupLabels),
                "commonLabels": dict(self.CommonLabels), "commonAnnotations": dict(self.CommonAnnotations),
                "externalURL": self.ExternalURL}


def _common(sets: list[dict[str, str]]) -> dict[str, str]:
    if not sets:
        return {}
    first, rest = sets[0], sets[1:]
    return {k: v for k, v in first.items() if all(s.get(k) == v for s in rest)}


def _join(sep: str, items: Iterable[Any]) -> str:
    return sep.join(str(i) for i in items)


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    return re.sub(pattern, re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", repl), text)


FUNCS: dict[str, Callable[..., Any]] = {
    "toUpper": lambda s: str(s).upper(),
    "toLower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "trimSpace": lambda s: str(s).strip(),
    "join": _join,
    "match": lambda pattern, s: re.search(pattern, str(s)) is not None,
    "safeHtml": lambda s: str(s),
    "reReplaceAll": _re_replace_all,
    "stringSlice": lambda *s: list(s),
    "urlquery": lambda *s: urllib.parse.quote_plus("".join(str(x) for x in s)),
}


class Templates:
    """The default templates plus the user's `templates:` files."""

    def __init__(self, files: Iterable[str] = ()) -> None:
        from pharos.rules.template import Template, TemplateError  # the shared Go-template engine

        self.base = Template("default.tmpl", DEFAULT_TEMPLATES, FUNCS)
        for path in files:
            try:
                self.base.add(Template(Path(path).name, Path(path).read_text(encoding="utf-8"), FUNCS))
            except OSError as exc:
                raise TemplateError(f"cannot read template file {path}: {exc}") from None

    def render(self, text: str, data: Data) -> str:
        """Render one config field (which may call `template "name"`)."""
        if "{{" not in text:
            return text
        from pharos.rules.template import Template

        tmpl = Template("text", text, FUNCS)
        tmpl.add(self.base)
        return tmpl.execute(data)

    def named(self, name: str, data: Data) -> str:
        """Render a defined template by name."""
        return self.base.execute_named(name, data)
