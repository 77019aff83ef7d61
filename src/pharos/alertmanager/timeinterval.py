"""Alertmanager time intervals: `times`, `weekdays`, `days_of_month`, `months`, `years`, `location`.

An interval contains an instant when every field it sets contains it (in `location`, UTC by
default); a named time interval is a list of such intervals, any of which may match.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = {d: i for i, d in enumerate(
    ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"])}
MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_TIME_RE = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")

Range = tuple[int, int]


class IntervalError(ValueError):
    """An invalid time interval; `path` names the offending key inside the interval."""

    def __init__(self, message: str, *path: str | int) -> None:
        super().__init__(message)
        self.path = path


@dataclass
class TimeInterval:
    """One entry of a named time interval's list."""

    times: list[Range] = field(default_factory=list)  # minutes of the day, [start, end)
    weekdays: list[Range] = field(default_factory=list)
    days_of_month: list[Range] = field(default_factory=list)
    months: list[Range] = field(default_factory=list)
    years: list[Range] = field(default_factory=list)
    location: tzinfo = UTC

    def contains(self, when: datetime) -> bool:
        """Whether the instant lies inside this interval."""
        t = when.astimezone(self.location)
        minute = t.hour * 60 + t.minute
        if self.times and not any(a <= minute < b for a, b in self.times):
            return False
        if self.days_of_month and not _day_in(t, self.days_of_month):
            return False
        if self.months and not any(a <= t.month <= b for a, b in self.months):
            return False
        weekday = (t.weekday() + 1) % 7  # Go: Sunday = 0
        if self.weekdays and not any(a <= weekday <= b for a, b in self.weekdays):
            return False
        return not self.years or any(a <= t.year <= b for a, b in self.years)


def _day_in(t: datetime, ranges: list[Range]) -> bool:
    """Days of month with negative (from the end) bounds, clamped to the month."""
    days = calendar.monthrange(t.year, t.month)[1]
    for begin, end in ranges:
        begin = days + begin + 1 if begin < 0 else begin
        end = days + end + 1 if end < 0 else end
        if begin > days:
            continue
        begin, end = max(-days, min(begin, days)), max(-days, min(end, days))
        if begin <= t.day <= end:
            return True
    return False


def in_any(intervals: list[TimeInterval], when: datetime) -> bool:
    """Whether any interval of a named time interval contains the instant."""
    return any(i.contains(when) for i in intervals)


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

def parse_interval(raw: Any) -> TimeInterval:
    """Parse one mapping of a time interval list (IntervalError with the key on failure)."""
    if not isinstance(raw, dict):
        raise IntervalError("time interval must be a mapping")
    unknown = set(raw) - {"times", "weekdays", "days_of_month", "months", "years", "location"}
    if unknown:
        raise IntervalError(f"unknown field {sorted(unknown)[0]!r} in time interval", sorted(unknown)[0])
    out = TimeInterval()
    out.times = [_parse_times(t, i) for i, t in enumerate(_list(raw, "times"))]
    out.weekdays = _ranges(raw, "weekdays", _weekday, 0, 6)
    out.days_of_month = [_day_range(v, i) for i, v in enumerate(_list(raw, "days_of_month"))]
    out.months = _ranges(raw, "months", _month, 1, 12)
    out.years = _ranges(raw, "years", _year, 1, 1 << 31)
    if raw.get("location") is not None:
        out.location = _location(str(raw["location"]))
    return out


def _list(raw: dict[str, Any], key: str) -> list[Any]:
    value = raw.get(key) or []
    if not isinstance(value, list):
        raise IntervalError(f"{key} must be a list", key)
    return value


def _parse_times(raw: Any, index: int) -> Range:
    if not isinstance(raw, dict) or "start_time" not in raw or "end_time" not in raw:
        raise IntervalError("both start and end times must be provided", "times", index)
    start = _minutes(str(raw["start_time"]), index)
    end = _minutes(str(raw["end_time"]), index)
    if start >= end:
        raise IntervalError("start time cannot be equal or greater than end time", "times", index)
    return start, end


def _minutes(text: str, index: int) -> int:
    if not _TIME_RE.match(text):
        raise IntervalError(f"couldn't parse timestamp {text}, invalid format", "times", index)
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _ranges(raw: dict[str, Any], key: str, convert: Any, low: int, high: int) -> list[Range]:
    out = []
    for i, item in enumerate(_list(raw, key)):
        text = str(item).strip()
        first, _, second = text.partition(":")
        try:
            begin = convert(first)
            end = convert(second) if second else begin
        except ValueError as exc:
            raise IntervalError(str(exc), key, i) from None
        if not (low <= begin <= high and low <= end <= high):
            raise IntervalError(f"{key} value out of range: {text}", key, i)
        if begin > end:
            raise IntervalError(f"start of {key} range cannot be after its end: {text}", key, i)
        out.append((begin, end))
    return out


def _weekday(text: str) -> int:
    day = WEEKDAYS.get(text.strip().lower())
    if day is None:
        raise ValueError(f"{text} is not a valid weekday")
    return day


def _month(text: str) -> int:
    text = text.strip().lower()
    if text in MONTHS:
        return MONTHS[text]
    if text.isdigit():
        return int(text)
    raise ValueError(f"{text} is not a valid month")


def _year(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"{text} is not a valid year")
    return int(text)


def _day_range(item: Any, index: int) -> Range:
    text = str(item).strip()
    parts = text.split(":") if ":" in text[1:] else [text]
    try:
        begin = int(parts[0])
        end = int(parts[-1])
    except ValueError:
        raise IntervalError(f"{text} is not a valid day of month", "days_of_month", index) from None
    for day in (begin, end):
        if day == 0 or not -31 <= day <= 31:
            raise IntervalError(f"{day} is not a valid day of the month: out of range",
                                "days_of_month", index)
    if (begin > 0) == (end > 0) and begin > end:
        raise IntervalError(f"end day must be greater than start day: {text}", "days_of_month", index)
    return begin, end


def _location(name: str) -> tzinfo:
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return datetime.now().astimezone().tzinfo or UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise IntervalError(f"unknown time zone {name}", "location") from None
