"""Alertmanager label matchers: `name="value"`, `!=`, `=~`, `!~`, lists like `{a="b", c=~"d.*"}`.

Parsing follows Alertmanager 0.25's `pkg/labels` (unquoted values allowed, `\\"`, `\\\\`, `\\n`
escapes); regexes are fully anchored. `String()` renders as Alertmanager does (`name="value"`),
which also forms route keys and group keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

EQ, NE, RE, NRE = "=", "!=", "=~", "!~"
_MATCHER_RE = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.S)
_TYPE_ORDER = {EQ: 0, NE: 1, RE: 2, NRE: 3}


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regex does not compile."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher; `matches(value)` tests a label value ("" when the label is absent)."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False, hash=False)

    @classmethod
    def make(cls, name: str, op: str, value: str) -> Matcher:
        """Build a matcher; regex matchers compile `^(?:value)$` (MatcherError when invalid)."""
        regex = None
        if op in (RE, NRE):
            try:
                regex = re.compile(f"^(?:{go_regex(value)})$", re.S)
            except re.error as exc:
                raise MatcherError(f"error parsing regexp: {exc}") from None
        return cls(name, op, value, regex)

    def matches(self, value: str) -> bool:
        """Whether a label value satisfies this matcher."""
        if self.op == EQ:
            return value == self.value
        if self.op == NE:
            return value != self.value
        assert self._regex is not None
        hit = self._regex.match(value) is not None
        return hit if self.op == RE else not hit

    def matches_labels(self, labels: Mapping[str, str]) -> bool:
        """Whether a label set satisfies this matcher (absent labels are the empty string)."""
        return self.matches(labels.get(self.name, ""))

    @property
    def is_regex(self) -> bool:
        """True for `=~` and `!~`."""
        return self.op in (RE, NRE)

    @property
    def is_equal(self) -> bool:
        """True for `=` and `=~` (API v2's `isEqual`)."""
        return self.op in (EQ, RE)

    def __str__(self) -> str:
        return f'{self.name}{self.op}"{escape_value(self.value)}"'

    def sort_key(self) -> tuple[str, str, int]:
        """Alertmanager's matcher order: name, value, type."""
        return (self.name, self.value, _TYPE_ORDER[self.op])


def go_regex(pattern: str) -> str:
    """Translate the RE2 syntax Python lacks (`\\z`, POSIX classes are rare) into Python's."""
    return pattern.replace(r"\z", r"\Z")


def escape_value(value: str) -> str:
    """Escape a value as Alertmanager's matcher String() does (backslash, newline, quote)."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def matchers_string(matchers: Iterable[Matcher]) -> str:
    """`{a="b",c=~"d"}` as Alertmanager's Matchers.String()."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def sort_matchers(matchers: Iterable[Matcher]) -> list[Matcher]:
    """Sorted as Alertmanager sorts a route's matchers."""
    return sorted(matchers, key=Matcher.sort_key)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches the label set."""
    return all(m.matches_labels(labels) for m in matchers)


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as `severity=~"crit|page"` or `team=a`."""
    found = _MATCHER_RE.match(text)
    if found is None:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = found.groups()
    return Matcher.make(name, op, _unescape(raw))


def _unescape(raw: str) -> str:
    """Unquote and unescape a matcher value as Alertmanager's parser does."""
    original, expect_quote = raw, raw.startswith('"')
    if expect_quote:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            out.append("\n" if ch == "n" else ch if ch in '"\\' else "\\" + ch)
        elif ch == "\\":
            if i < len(raw) - 1:
                escaped = True
            else:
                out.append("\\")
        elif ch == '"':
            if not expect_quote or i < len(raw) - 1:
                raise MatcherError(f"matcher value contains unescaped double quote: {original}")
            expect_quote = False
        else:
            out.append(ch)
    if expect_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {original}")
    return "".join(out)


def parse_matchers(text: str) -> list[Matcher]:
    """Parse `{a="b", c!="d"}` or `a=b,c=~d` (braces optional, commas inside quotes kept)."""
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside, escaped = False, False
    for ch in text:
        if ch == "," and not inside:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"':
            if not escaped:
                inside = not inside
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return [parse_matcher(t) for t in tokens]


def matches_filter(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """API v2 `filter=` semantics: an empty-valued matcher on an absent (or present) label passes."""
    for m in matchers:
        present = m.name in labels
        value = labels.get(m.name, "")
        if m.op in (NE, NRE):
            if m.value == "" and present:
                continue
        elif m.value == "" and not present:
            continue
        if not m.matches(value):
            return False
    return True
