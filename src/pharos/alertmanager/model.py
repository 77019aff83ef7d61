"""Alerts as Alertmanager keeps them: labels, annotations, start/end, fingerprint, timeout flag.

Times are timezone-aware UTC datetimes. `fingerprint()` is Prometheus's FNV-1a label-set
fingerprint, so IDs equal Alertmanager's for the same labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
Labels = dict[str, str]


def fingerprint(labels: Mapping[str, str]) -> int:
    """Prometheus's LabelSet.Fingerprint (FNV-1a 64 over sorted names and values, 0xff separated)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ 0xFF) * _FNV_PRIME) & _MASK
    return h


def fp_hex(fp: int) -> str:
    """A fingerprint as Alertmanager prints it (16 hex digits)."""
    return f"{fp:016x}"


def labels_string(labels: Mapping[str, str]) -> str:
    """Prometheus's LabelSet.String(): `{a="b", c="d"}`, sorted."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


def go_quote(text: str) -> str:
    """Go's %q for the common cases (quotes, backslashes, control characters)."""
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


@dataclass
class Alert:
    """One alert; `timeout` is set when the sender gave no end time (resolve_timeout applies)."""

    labels: Labels
    annotations: Labels = field(default_factory=dict)
    starts_at: datetime = ZERO_TIME
    ends_at: datetime = ZERO_TIME
    generator_url: str = ""
    updated_at: datetime = ZERO_TIME
    timeout: bool = False

    @property
    def fingerprint(self) -> int:
        """The label-set fingerprint."""
        return fingerprint(self.labels)

    def resolved_at(self, now: datetime) -> bool:
        """Whether the alert has ended by `now`."""
        return self.ends_at != ZERO_TIME and self.ends_at <= now

    def status(self, now: datetime) -> str:
        """"firing" or "resolved"."""
        return "resolved" if self.resolved_at(now) else "firing"

    def merge(self, newer: Alert) -> Alert:
        """Alertmanager's Alert.Merge: the younger update wins, earliest start, sensible end."""
        if newer.updated_at < self.updated_at:
            return newer.merge(self)
        res = replace(newer)
        if self.starts_at < newer.starts_at:
            res.starts_at = self.starts_at
        now = newer.updated_at
        if newer.resolved_at(now):
            if self.resolved_at(now) and self.ends_at > newer.ends_at:
                res.ends_at = self.ends_at
        elif self.ends_at > newer.ends_at and not self.timeout:
            res.ends_at = self.ends_at
        return res


def sort_alerts(alerts: Iterable[Alert]) -> list[Alert]:
    """Alertmanager's AlertSlice order: by job, then instance, then the whole label set."""
    import functools

    return sorted(alerts, key=functools.cmp_to_key(_compare))


def _compare(a: Alert, b: Alert) -> int:
    for key in ("job", "instance"):
        ia, ib = key in a.labels, key in b.labels
        if not ia and not ib:
            continue
        if not ia:
            return 1
        if not ib:
            return -1
        if a.labels[key] != b.labels[key]:
            return -1 if a.labels[key] < b.labels[key] else 1
    if _before(a.labels, b.labels):
        return -1
    return 1 if _before(b.labels, a.labels) else 0


def _before(a: Labels, b: Labels) -> bool:
    """Prometheus's LabelSet.Before."""
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted(set(a) | set(b)):
        if name not in a:
            return True
        if name not in b:
            return False
        if a[name] != b[name]:
            return a[name] < b[name]
    return False


def go_time(t: datetime) -> str:
    """Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros trimmed), in UTC."""
    t = t.astimezone(UTC)
    base = _stamp(t)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return f"{base}{'.' + frac if frac else ''}Z"


def api_time(t: datetime) -> str:
    """API v2 (go-openapi strfmt.DateTime): milliseconds, UTC."""
    t = t.astimezone(UTC)
    return f"{_stamp(t)}.{t.microsecond // 1000:03d}Z"


def _stamp(t: datetime) -> str:
    """YYYY-MM-DDTHH:MM:SS with a four-digit year (strftime does not pad year 1)."""
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (nanoseconds truncated to microseconds); ValueError if bad."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)].ljust(6, '0')}{rest[digits:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without time zone: {text}")
    return parsed.astimezone(UTC)
