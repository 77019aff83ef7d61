"""Composite monitor expressions: boolean logic over other monitors' states.

    expr = parse_composite("api-latency && (errors || !deploys)")
    expr.names()                         # {"api-latency", "errors", "deploys"}
    expr.evaluate({"api-latency": True, "errors": False, "deploys": False})   # True

Grammar: `||` binds loosest, then `&&`, then `!`; parentheses group. A name is a run of letters,
digits and `_ . : / -` (not starting with `-`), or any text in double quotes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_TOKEN = re.compile(r'\s*(?:(\|\||&&|!|\(|\))|"((?:[^"\\]|\\.)*)"|([A-Za-z0-9_.:/][A-Za-z0-9_.:/\-]*))')


class CompositeError(ValueError):
    """A composite expression that does not parse."""


@dataclass(frozen=True)
class Name:
    """A reference to another monitor."""

    name: str

    def evaluate(self, values: Mapping[str, bool]) -> bool:
        """The referenced monitor's truth value (unknown names are false)."""
        return bool(values.get(self.name, False))

    def names(self) -> set[str]:
        """The monitors referenced."""
        return {self.name}


@dataclass(frozen=True)
class Not:
    """`!x`."""

    inner: Node

    def evaluate(self, values: Mapping[str, bool]) -> bool:
        """Negation."""
        return not self.inner.evaluate(values)

    def names(self) -> set[str]:
        """The monitors referenced."""
        return self.inner.names()


@dataclass(frozen=True)
class BinOp:
    """`a && b` or `a || b`."""

    op: str
    lhs: Node
    rhs: Node

    def evaluate(self, values: Mapping[str, bool]) -> bool:
        """Conjunction or disjunction."""
        if self.op == "&&":
            return self.lhs.evaluate(values) and self.rhs.evaluate(values)
        return self.lhs.evaluate(values) or self.rhs.evaluate(values)

    def names(self) -> set[str]:
        """The monitors referenced."""
        return self.lhs.names() | self.rhs.names()


Node = Name | Not | BinOp


def _tokens(text: str) -> list[tuple[str, str]]:
    """(kind, text) pairs: kind is "op" or "name"."""
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise CompositeError(f"unexpected character {text[pos:].lstrip()[0]!r} at position {pos}")
        if m.group(1):
            out.append(("op", m.group(1)))
        else:
            name = m.group(3) if m.group(3) is not None else re.sub(r"\\(.)", r"\1", m.group(2))
            out.append(("name", name))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise CompositeError("unexpected end of expression")
        self.pos += 1
        return tok

    def binary(self, op: str, sub: str) -> Node:
        node = getattr(self, sub)()
        while self.peek() == ("op", op):
            self.pos += 1
            node = BinOp(op, node, getattr(self, sub)())
        return node

    def disjunction(self) -> Node:
        return self.binary("||", "conjunction")

    def conjunction(self) -> Node:
        return self.binary("&&", "unary")

    def unary(self) -> Node:
        kind, text = self.take()
        if kind == "name":
            return Name(text)
        if text == "!":
            return Not(self.unary())
        if text == "(":
            node = self.disjunction()
            if self.take() != ("op", ")"):
                raise CompositeError("missing closing parenthesis")
            return node
        raise CompositeError(f"unexpected {text!r}")


def parse_composite(text: str) -> Node:
    """Parse a composite expression; CompositeError on bad syntax."""
    parser = _Parser(text)
    if not parser.tokens:
        raise CompositeError("empty expression")
    node = parser.disjunction()
    if parser.peek() is not None:
        raise CompositeError(f"unexpected {parser.peek()[1]!r} after the expression")  # type: ignore[index]
    return node
