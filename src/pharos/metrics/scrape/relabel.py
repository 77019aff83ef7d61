"""Relabelling with Prometheus's semantics: the 11 actions, fully anchored RE2-style regexes and
Go `regexp.Expand` templates (`$1`, `${1}`, `$name`, `$$`; an unknown group expands to "").

Usage on the hot path (metric_relabel_configs, once per series)::

    relabeler = compile_relabel(scrape_config.metric_relabel_configs)
    out = relabeler(labels)          # Labels, or None when the series is dropped

or simply `relabel(labels, configs)`, which accepts `RelabelConfig` models (their compiled rule is
cached on the model at config load) or `Rule`s. An empty list costs one truth test.
"""

from __future__ import annotations

import hashlib
import re
import string
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pharos.metrics.model import Labels, make_labels

if TYPE_CHECKING:
    from pharos.config.model import RelabelConfig

__all__ = [
    "Relabeler",
    "Rule",
    "compile_re2",
    "compile_relabel",
    "compile_rule",
    "expand_template",
    "is_valid_label_name",
    "relabel",
]

_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Prometheus's `relabelTarget`: a label name in which `$1`/`${name}` references may appear.
RELABEL_TARGET_RE = re.compile(r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+", re.ASCII)

DROP, SAME, CHANGED = 0, 1, 2
_DELETE_ONLY = frozenset({"keep", "drop", "keepequal", "dropequal", "labeldrop", "labelkeep"})
_LITERAL_CHARS = frozenset(string.ascii_letters + string.digits + "_:/@=,; ")
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~",
    "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


def is_valid_label_name(name: str) -> bool:
    """Whether `name` is a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)."""
    return _LABEL_NAME_RE.fullmatch(name) is not None


# ---------------------------------------------------------------------------------------------
# RE2 -> Python regex translation
# ---------------------------------------------------------------------------------------------

def compile_re2(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern (as Prometheus relabel regexes are); use with `fullmatch`.

    Raises re.error for invalid patterns and for Perl syntax RE2 rejects (lookaround, backrefs).
    """
    translated = _translate_re2(pattern)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(f"(?:{translated})", re.ASCII)


def _translate_re2(pattern: str) -> str:
    """Rewrite the RE2 constructs Python spells differently; reject those Python has but RE2 lacks."""
    out: list[str] = []
    closers = [0]  # per open group: scoped-flag groups to close with it
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\":
            i = _translate_escape(pattern, i, in_class, out)
        elif in_class:
            i = _translate_class_char(pattern, i, out)
            in_class = c != "]"
        elif c == "[":
            i = _open_class(pattern, i, out)
            in_class = True
        elif c == "(":
            i = _translate_group(pattern, i, out, closers)
        elif c == ")":
            out.append(")" * (closers.pop() + 1) if len(closers) > 1 else ")")
            i += 1
        else:
            out.append(c)
            i += 1
    out.append(")" * closers[0])
    return "".join(out)


def _translate_escape(pattern: str, i: int, in_class: bool, out: list[str]) -> int:
    """Translate one backslash escape starting at `i`; return the next index."""
    if i + 1 >= len(pattern):
        raise re.error("trailing backslash at end of expression")
    d = pattern[i + 1]
    if d == "Q":
        end = pattern.find("\\E", i + 2)
        literal = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
        out.append(re.escape(literal))
        return len(pattern) if end < 0 else end + 2
    if d.isdigit() and d != "0":
        raise re.error(f"invalid escape sequence: \\{d}")
    out.append("\\Z" if d == "z" and not in_class else "\\" + d)
    return i + 2


def _open_class(pattern: str, i: int, out: list[str]) -> int:
    """Copy `[`, an optional `^` and a leading literal `]`."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        out.append(pattern[i:j] + "\\]")
        return j + 1
    out.append(pattern[i:j])
    return j


def _translate_class_char(pattern: str, i: int, out: list[str]) -> int:
    """Translate a character inside [...], expanding POSIX classes like [:alpha:]."""
    if pattern.startswith("[:", i):
        end = pattern.find(":]", i + 2)
        name = pattern[i + 2:end] if end > 0 else ""
        if name in _POSIX_CLASSES:
            out.append(_POSIX_CLASSES[name])
            return end + 2
        if name.startswith("^") and name[1:] in _POSIX_CLASSES:
            raise re.error(f"unsupported negated character class [:{name}:]")
    out.append("\\[" if pattern[i] == "[" else pattern[i])
    return i + 1


def _translate_group(pattern: str, i: int, out: list[str], closers: list[int]) -> int:
    """Translate `(`, `(?:`, `(?P<name>`, `(?flags)` and `(?flags:`."""
    if not pattern.startswith("(?", i):
        closers.append(0)
        out.append("(")
        return i + 1
    rest = pattern[i + 2:]
    if rest.startswith(("P<", ":")):
        closers.append(0)
        out.append("(?")
        return i + 2
    m = re.match(r"([imsU]*(?:-[imsU]*)?)([:)])", rest)
    if m is None or m.group(1) in ("", "-"):
        raise re.error(f"invalid or unsupported Perl syntax: `(?{rest[:1]}`")
    flags = m.group(1)
    if "U" in flags:
        raise re.error("unsupported flag U (ungreedy)")
    if m.group(2) == ":":
        closers.append(0)
        out.append(f"(?{flags}:")
    else:
        closers[-1] += 1
        out.append(f"(?{flags}:")
    return i + 2 + m.end()


# ---------------------------------------------------------------------------------------------
# Go regexp.Expand templates
# ---------------------------------------------------------------------------------------------

Template = tuple[str | int, ...]


def compile_template(template: str, regex: re.Pattern[str]) -> Template:
    """Split a Go-style template into literal strings and group indexes (dropping unknown groups)."""
    parts: list[str | int] = []
    literal: list[str] = []
    i, n = 0, len(template)
    while i < n:
        j = template.find("$", i)
        if j < 0:
            literal.append(template[i:])
            break
        literal.append(template[i:j])
        if template.startswith("$$", j):
            literal.append("$")
            i = j + 2
            continue
        ref, i = _extract_ref(template, j + 1)
        if ref is None:
            literal.append("$")
            continue
        group = _resolve_group(ref, regex)
        if group is not None:
            parts.append("".join(literal))
            literal = []
            parts.append(group)
    parts.append("".join(literal))
    return tuple(p for p in parts if p != "")


def _extract_ref(template: str, i: int) -> tuple[str | None, int]:
    """Parse a group name after `$` at `i`: `name` or `{name}`; (None, i) when malformed."""
    brace = template.startswith("{", i)
    j = i + 1 if brace else i
    k = j
    while k < len(template) and (template[k].isalpha() or template[k].isdecimal() or template[k] == "_"):
        k += 1
    if k == j:
        return None, i
    if brace:
        if k >= len(template) or template[k] != "}":
            return None, i
        return template[j:k], k + 1
    return template[j:k], k


def _resolve_group(ref: str, regex: re.Pattern[str]) -> int | None:
    """Group index for a reference, or None when it names no group (Go expands that to "")."""
    if ref.isascii() and ref.isdigit() and not (ref[0] == "0" and len(ref) > 1) and len(ref) < 9:
        index = int(ref)
        return index if index <= regex.groups else None
    return regex.groupindex.get(ref)


def expand_template(template: Template, match: re.Match[str]) -> str:
    """Expand a compiled template against a match."""
    if len(template) == 1 and type(template[0]) is str:
        return template[0]
    return "".join(p if type(p) is str else (match.group(p) or "") for p in template)


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------

Step = Callable[[dict[str, str]], int]


class Rule:
    """One compiled relabel config: `step(d)` mutates a label dict and returns DROP/SAME/CHANGED."""

    __slots__ = ("action", "regex", "step")

    def __init__(self, action: str, regex: re.Pattern[str], step: Step) -> None:
        self.action = action
        self.regex = regex
        self.step = step


def compile_rule(cfg: RelabelConfig) -> Rule:
    """Compile one relabel config (raises re.error on an invalid regex)."""
    regex = compile_re2(cfg.regex)
    builder = _BUILDERS[cfg.action]
    return Rule(cfg.action, regex, builder(cfg, regex))


def _source_getter(sources: Sequence[str], sep: str) -> Callable[[dict[str, str]], str]:
    """Return a function computing the joined source-label value."""
    if not sources:
        return lambda d: ""
    if len(sources) == 1:
        name = sources[0]
        return lambda d: d.get(name, "")
    names = tuple(sources)
    return lambda d: sep.join([d.get(s, "") for s in names])


def _matcher(pattern: str, regex: re.Pattern[str]) -> Callable[[str], bool]:
    """A fast full-match predicate: set lookup for literal alternations, `.*` shortcut, else regex."""
    if pattern in ("(.*)", ".*"):
        return lambda v: "\n" not in v
    alternatives = pattern.split("|")
    if all(a and _LITERAL_CHARS.issuperset(a) for a in alternatives):
        literals = frozenset(alternatives)
        return literals.__contains__
    fullmatch = regex.fullmatch
    return lambda v: fullmatch(v) is not None


def _set(d: dict[str, str], name: str, value: str) -> None:
    """Set a label as Prometheus's builder does: an empty value deletes it."""
    if value:
        d[name] = value
    else:
        d.pop(name, None)


def _build_keep(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    get, match = _source_getter(cfg.source_labels, cfg.separator), _matcher(cfg.regex, regex)
    return lambda d: SAME if match(get(d)) else DROP


def _build_drop(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    get, match = _source_getter(cfg.source_labels, cfg.separator), _matcher(cfg.regex, regex)
    return lambda d: DROP if match(get(d)) else SAME


def _build_keepequal(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    get, target = _source_getter(cfg.source_labels, cfg.separator), cfg.target_label
    return lambda d: SAME if d.get(target, "") == get(d) else DROP


def _build_dropequal(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    get, target = _source_getter(cfg.source_labels, cfg.separator), cfg.target_label
    return lambda d: DROP if d.get(target, "") == get(d) else SAME


def _build_replace(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    get, fullmatch = _source_getter(cfg.source_labels, cfg.separator), regex.fullmatch
    target_t = compile_template(cfg.target_label, regex)
    repl_t = compile_template(cfg.replacement, regex)
    const_target = target_t[0] if len(target_t) == 1 and type(target_t[0]) is str else None

    def step(d: dict[str, str]) -> int:
        m = fullmatch(get(d))
        if m is None:
            return SAME
        target = const_target if const_target is not None else expand_template(target_t, m)
        if not is_valid_label_name(target):
            return SAME
        _set(d, target, expand_template(repl_t, m))
        return CHANGED

    return step


def _build_case(convert: Callable[[str], str]) -> Callable[[RelabelConfig, re.Pattern[str]], Step]:
    def build(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
        get, target = _source_getter(cfg.source_labels, cfg.separator), cfg.target_label

        def step(d: dict[str, str]) -> int:
            _set(d, target, convert(get(d)))
            return CHANGED

        return step

    return build


def _build_hashmod(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    get, target, modulus = _source_getter(cfg.source_labels, cfg.separator), cfg.target_label, cfg.modulus

    def step(d: dict[str, str]) -> int:
        digest = hashlib.md5(get(d).encode(), usedforsecurity=False).digest()
        d[target] = str(int.from_bytes(digest[8:], "big") % modulus)
        return CHANGED

    return step


def _build_labelmap(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    fullmatch, repl_t = regex.fullmatch, compile_template(cfg.replacement, regex)

    def step(d: dict[str, str]) -> int:
        for name, value in sorted(d.items()):
            m = fullmatch(name)
            if m is not None:
                _set(d, expand_template(repl_t, m), value)
        return CHANGED

    return step


def _build_labeldrop(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    match = _matcher(cfg.regex, regex)

    def step(d: dict[str, str]) -> int:
        doomed = [name for name in d if match(name)]
        for name in doomed:
            del d[name]
        return CHANGED if doomed else SAME

    return step


def _build_labelkeep(cfg: RelabelConfig, regex: re.Pattern[str]) -> Step:
    match = _matcher(cfg.regex, regex)

    def step(d: dict[str, str]) -> int:
        doomed = [name for name in d if not match(name)]
        for name in doomed:
            del d[name]
        return CHANGED if doomed else SAME

    return step


_BUILDERS: dict[str, Callable[[Any, re.Pattern[str]], Step]] = {
    "replace": _build_replace,
    "keep": _build_keep,
    "drop": _build_drop,
    "keepequal": _build_keepequal,
    "dropequal": _build_dropequal,
    "hashmod": _build_hashmod,
    "labelmap": _build_labelmap,
    "labeldrop": _build_labeldrop,
    "labelkeep": _build_labelkeep,
    "lowercase": _build_case(str.lower),
    "uppercase": _build_case(str.upper),
}


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------

class Relabeler:
    """A compiled list of relabel rules; call it with a label set."""

    __slots__ = ("only_deletes", "steps")

    def __init__(self, rules: Sequence[Rule]) -> None:
        self.steps = tuple(r.step for r in rules)
        self.only_deletes = all(r.action in _DELETE_ONLY for r in rules)

    def __bool__(self) -> bool:
        return bool(self.steps)

    def __call__(self, labels: Labels) -> Labels | None:
        """Relabel `labels`; None when a rule drops them."""
        steps = self.steps
        if not steps:
            return labels
        d = dict(labels)
        changed = False
        for step in steps:
            result = step(d)
            if result == DROP:
                return None
            if result == CHANGED:
                changed = True
        if not changed:
            return labels
        if self.only_deletes:
            return tuple(p for p in labels if p[0] in d)
        return make_labels(d)

    def apply_dict(self, labels: dict[str, str]) -> dict[str, str] | None:
        """Relabel a label dict (e.g. a discovered target); returns a new dict or None."""
        d = {k: v for k, v in labels.items() if v}
        for step in self.steps:
            if step(d) == DROP:
                return None
        return d


def _rule_of(cfg: RelabelConfig | Rule) -> Rule:
    """The compiled rule of a config (cached on the model) or the rule itself."""
    return cfg if isinstance(cfg, Rule) else cfg.rule


def compile_relabel(configs: Sequence[RelabelConfig | Rule]) -> Relabeler:
    """Compile configs once for repeated use on the hot path."""
    return Relabeler([_rule_of(c) for c in configs])


def relabel(labels: Labels, configs: Sequence[RelabelConfig | Rule] | Relabeler) -> Labels | None:
    """Apply relabel configs to `labels` in order; None when the label set is dropped."""
    if not configs:
        return labels
    if isinstance(configs, Relabeler):
        return configs(labels)
    return Relabeler([_rule_of(c) for c in configs])(labels)
