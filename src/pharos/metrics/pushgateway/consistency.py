"""The Pushgateway's check that a push keeps the whole store gatherable (client_golang's
Gatherers checks): one type per family name, no series twice, no suffix collisions."""

from __future__ import annotations

from collections.abc import Iterable

from pharos.metrics.exposition.gofmt import go_quote
from pharos.metrics.pushgateway.model import HISTOGRAM, SUMMARY, Family, proto_text


class InconsistentError(ValueError):
    """The reason a push would leave the store inconsistent."""


def check_timestamps(families: Iterable[Family]) -> None:
    if any(m.has_timestamp for f in families for m in f.metrics):
        raise InconsistentError("pushed metrics must not have timestamps")


def check_consistency(families: Iterable[Family]) -> None:
    """Merge families by name in order and raise on the first inconsistency."""
    merged: dict[str, str] = {}  # family name -> type of the first family seen
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for fam in families:
        first = merged.setdefault(fam.name, fam.type)
        _check_collisions(fam, merged)
        for m in fam.metrics:
            if fam.type != first:
                raise InconsistentError(
                    f"collected metric {go_quote(fam.name)} {{ {proto_text(fam.type, m)}}} is not a {first}"
                )
            ident = (fam.name, m.identity())
            if ident in seen:
                raise InconsistentError(
                    f"collected metric {go_quote(fam.name)} {{ {proto_text(fam.type, m)}}} "
                    "was collected before with the same name and label values"
                )
            seen.add(ident)


def _check_collisions(fam: Family, merged: dict[str, str]) -> None:
    """A histogram or summary's _sum/_count/_bucket names must not be families of their own."""
    for suffix in ("_count", "_sum", "_bucket"):
        base = fam.name.removesuffix(suffix)
        if base != fam.name and merged.get(base) in (HISTOGRAM, SUMMARY):
            if suffix == "_bucket" and merged[base] == SUMMARY:
                continue
            kind = merged[base].lower()
            raise InconsistentError(
                f"collected metric named {go_quote(fam.name)} collides with previously collected "
                f"{kind} named {go_quote(base)}"
            )
    if fam.type in (HISTOGRAM, SUMMARY):
        suffixes = ("_count", "_sum", "_bucket") if fam.type == HISTOGRAM else ("_count", "_sum")
        for suffix in suffixes:
            if fam.name + suffix in merged:
                raise InconsistentError(
                    f"collected {fam.type.lower()} named {go_quote(fam.name)} collides with previously "
                    f"collected metric named {go_quote(fam.name + suffix)}"
                )
