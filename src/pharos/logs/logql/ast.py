"""LogQL syntax tree (Loki 3.x)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Matcher:
    """A label matcher `name op "value"` (op: = != =~ !~)."""

    name: str
    op: str
    value: str


@dataclass(frozen=True)
class LineFilter:
    """`|=` `!=` `|~` `!~` `|>` `!>` with `or` alternatives; `ip` for ip("...") values."""

    op: str
    values: tuple[str, ...]
    ip: bool = False


@dataclass(frozen=True)
class LabelCmp:
    """`name op value`; kind: string, number, duration, bytes or ip."""

    name: str
    op: str
    value: object
    kind: str


@dataclass(frozen=True)
class LabelBool:
    """`left and|or right` of label filters."""

    op: str
    left: LabelExpr
    right: LabelExpr


LabelExpr = LabelCmp | LabelBool


@dataclass(frozen=True)
class LabelFilter:
    """A pipeline stage filtering on labels."""

    expr: LabelExpr


@dataclass(frozen=True)
class Parser:
    """`json`, `logfmt`, `regexp "re"`, `pattern "p"`, `unpack`; params of json/logfmt."""

    kind: str
    arg: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LineFormat:
    """`line_format "template"`."""

    template: str


@dataclass(frozen=True)
class LabelFormat:
    """`label_format dst=src, dst="{{tmpl}}"` (is_template per item)."""

    items: tuple[tuple[str, str, bool], ...]


@dataclass(frozen=True)
class DropKeep:
    """`drop` / `keep` of names or matchers."""

    kind: str
    items: tuple[tuple[str, Matcher | None], ...]


@dataclass(frozen=True)
class Decolorize:
    """`decolorize`: strip ANSI color codes from the line."""


@dataclass(frozen=True)
class Unwrap:
    """`unwrap [conv(]label[)]`; conv: "", duration, duration_seconds or bytes."""

    label: str
    conv: str = ""


Stage = LineFilter | LabelFilter | Parser | LineFormat | LabelFormat | DropKeep | Decolorize


@dataclass(frozen=True)
class LogExpr:
    """A stream selector and its pipeline."""

    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class LogRange:
    """A log expression over a range, with optional unwrap and post-unwrap filters."""

    log: LogExpr
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None
    post: tuple[Stage, ...] = ()


@dataclass(frozen=True)
class Grouping:
    """`by (...)` (without=False) or `without (...)`."""

    labels: tuple[str, ...]
    without: bool = False


@dataclass(frozen=True)
class RangeAgg:
    """`count_over_time(...)` etc.; param for quantile_over_time; grouping for unwrapped ranges."""

    op: str
    range: LogRange
    param: float | None = None
    grouping: Grouping | None = None


@dataclass(frozen=True)
class VectorAgg:
    """`sum by (x) (...)`, `topk(k, ...)`, `sort(...)`..."""

    op: str
    expr: Expr
    grouping: Grouping | None = None
    param: float | None = None


@dataclass(frozen=True)
class VectorMatching:
    """`on(...)` / `ignoring(...)` and `group_left/right(...)`."""

    on: bool = False
    labels: tuple[str, ...] = ()
    card: str = "one-to-one"
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class BinOp:
    """`lhs op rhs` (arithmetic, comparison with optional bool, and/or/unless)."""

    op: str
    lhs: Expr
    rhs: Expr
    bool_mod: bool = False
    matching: VectorMatching = field(default_factory=VectorMatching)


@dataclass(frozen=True)
class Number:
    """A literal (scalar)."""

    value: float


@dataclass(frozen=True)
class VectorLit:
    """`vector(x)`."""

    value: float


@dataclass(frozen=True)
class LabelReplace:
    """`label_replace(expr, "dst", "replacement", "src", "regex")`."""

    expr: Expr
    dst: str
    replacement: str
    src: str
    regex: str


Expr = LogExpr | RangeAgg | VectorAgg | BinOp | Number | VectorLit | LabelReplace
