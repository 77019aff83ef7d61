"""Small helpers on label sets (sorted tuples of (name, value) pairs)."""

from __future__ import annotations

from collections.abc import Collection

from pharos.metrics.model import METRIC_NAME, Labels

_NAME_LABELS = (METRIC_NAME, "__type__", "__unit__")


def drop_name(labels: Labels) -> Labels:
    """The label set without __name__ (and the __type__/__unit__ metadata labels that go with it)."""
    return tuple(p for p in labels if p[0] not in _NAME_LABELS)


def keep_only(labels: Labels, names: Collection[str]) -> Labels:
    """Only the listed labels (pass a frozenset when calling per series)."""
    keep = names if isinstance(names, frozenset) else frozenset(names)
    return tuple([p for p in labels if p[0] in keep])


def without(labels: Labels, names: Collection[str]) -> Labels:
    """All labels except the listed ones (pass a frozenset when calling per series)."""
    drop = names if isinstance(names, frozenset) else frozenset(names)
    return tuple([p for p in labels if p[0] not in drop])


def set_label(labels: Labels, name: str, value: str) -> Labels:
    """The label set with `name` set to `value` (removed when value is empty)."""
    rest = [p for p in labels if p[0] != name]
    if value != "":
        rest.append((name, value))
    return tuple(sorted(rest))


def get(labels: Labels, name: str) -> str:
    """A label's value, "" when absent."""
    for n, v in labels:
        if n == name:
            return v
    return ""


def render(labels: Labels) -> str:
    """Prometheus's labels.String(): {a="b", c="d"} with __name__ as an ordinary label."""
    inner = ", ".join(f'{n}="{_escape(v)}"' for n, v in labels)
    return "{" + inner + "}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
