"""Writing Prometheus text exposition 0.0.4: families of samples with HELP and TYPE lines.

Used for pharos' own /metrics, the agent's node metrics and the cluster-state metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from pharos.metrics.model import escape_label_value


def format_value(v: float) -> str:
    """A sample value: integers without a fraction, NaN and +-Inf as Prometheus spells them."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


@dataclass
class Exposition:
    """Prometheus text exposition, family by family."""

    families: dict[str, tuple[str, str, list[str]]] = field(default_factory=dict)

    def add(
        self, name: str, kind: str, help_: str, value: float, labels: Mapping[str, str] | None = None
    ) -> None:
        """One sample; the family's HELP/TYPE come from its first sample."""
        fam = self.families.get(name)
        if fam is None:
            fam = self.families[name] = (kind, help_, [])
        if labels:
            body = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels.items())
            fam[2].append(f"{name}{{{body}}} {format_value(value)}")
        else:
            fam[2].append(f"{name} {format_value(value)}")

    def render(self, by_name: bool = False) -> str:
        """The text format; families in the order first added, or sorted `by_name`."""
        out: list[str] = []
        for name in sorted(self.families) if by_name else self.families:
            kind, help_, lines = self.families[name]
            out.append(f"# HELP {name} {_escape_help(help_)}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(lines)
        return "\n".join(out) + "\n" if out else ""
