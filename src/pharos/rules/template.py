"""A Go text/template interpreter for the subset alert templates use.

    tmpl = Template("name", "{{ $labels.job | toUpper }} is {{ humanize $value }}", funcs)
    text = tmpl.execute(data, variables={"labels": {...}})

Supported: text and actions with trim markers (`{{-`, `-}}`), comments, pipelines (`|`),
variables (`$x := ...`, `$x = ...`, `$`), fields and map keys (`.a.b`, `$x.a`), calls of methods
found on objects, literals (strings, raw strings, chars, ints, floats, true/false/nil),
parentheses, `if/else if/else`, `range` (with `$i, $v :=`, `else`, `break`, `continue`),
`with/else`, `define`, `template`, `block`; Go's builtins (`and or not len index slice print
printf println eq ne lt le gt ge html js urlquery call`). Functions other than the builtins come
from the function map the caller passes in (a Python callable raising an exception is a Go
function returning an error). Map keys that are absent give "" (Prometheus' missingkey=zero).
Values print as Go's fmt prints them (`1e+06`, `map[a:b]`, `[1 2]`, `<no value>`).
"""

from __future__ import annotations

import html
import math
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

FuncMap = Mapping[str, Callable[..., Any]]


class TemplateError(Exception):
    """A template that does not parse or fails while executing (Go's message format)."""


# ---------------------------------------------------------------------------------------------
# Go value formatting
# ---------------------------------------------------------------------------------------------

def go_float(v: float) -> str:
    """A float64 as Go's %v prints it (shortest repr, exponent when exp < -4 or >= 6)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v == 0:
        return "-0" if math.copysign(1, v) < 0 else "0"
    _, digits, exp = Decimal(repr(abs(v))).normalize().as_tuple()
    ds = "".join(map(str, digits))
    e10 = len(ds) + int(exp) - 1
    neg = "-" if v < 0 else ""
    if e10 < -4 or e10 >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if e10 < 0 else '+'}{abs(e10):02d}"
    if e10 < 0:
        return f"{neg}0.{'0' * (-e10 - 1)}{ds}"
    if len(ds) <= e10 + 1:
        return neg + ds + "0" * (e10 + 1 - len(ds))
    return f"{neg}{ds[:e10 + 1]}.{ds[e10 + 1:]}"


def go_format_g(v: float, prec: int) -> str:
    """Go's %.<prec>g (C's, with Go's spelling of infinities and NaN)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return f"%.{prec}g" % v


def go_str(v: Any) -> str:
    """A value as Go's fmt.Sprint prints it."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, int | str):
        return str(v)
    if isinstance(v, Mapping):
        return "map[" + " ".join(f"{go_str(k)}:{go_str(v[k])}" for k in sorted(v)) + "]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(go_str(x) for x in v) + "]"
    return str(v)


def truth(v: Any) -> bool:
    """Go template truthiness: false, 0, nil and empty values are false."""
    if v is None:
        return False
    if isinstance(v, bool | int | float):
        return bool(v)
    if isinstance(v, str | Mapping | list | tuple):
        return len(v) > 0
    return True


# ---------------------------------------------------------------------------------------------
# Lexing
# ---------------------------------------------------------------------------------------------

@dataclass
class Token:
    """One lexical item inside an action."""

    kind: str  # ident field var string raw char number ( ) | := = , keyword eof
    text: str
    pos: int


_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
_TOKEN_RE = re.compile(
    r"""(?P<ws>\s+)
    |(?P<comment>/\*.*?\*/)
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<raw>`[^`]*`)
    |(?P<char>'(?:[^'\\]|\\.)+')
    |(?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
    |(?P<var>\$[A-Za-z0-9_]*)
    |(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
    |(?P<dot>\.)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<decl>:=)
    |(?P<op>[()|=,])
    """,
    re.S | re.X,
)


@dataclass
class Piece:
    """A chunk of template source: literal text or the inside of an action."""

    is_action: bool
    text: str
    pos: int


def split_source(src: str, name: str) -> list[Piece]:
    """Cut the source into text and actions, applying `{{-` / `-}}` whitespace trimming."""
    pieces: list[Piece] = []
    i = 0
    trim_next = False
    while True:
        j = src.find("{{", i)
        text = src[i:] if j < 0 else src[i:j]
        if trim_next:
            text = text.lstrip(" \t\r\n")
        if j < 0:
            pieces.append(Piece(False, text, i))
            return pieces
        left_trim = src.startswith("{{- ", j) or src.startswith("{{-\t", j) or src.startswith("{{-\n", j)
        if left_trim:
            text = text.rstrip(" \t\r\n")
        pieces.append(Piece(False, text, i))
        start = j + (3 if left_trim else 2)
        end = _action_end(src, start, name)
        trim_next = end >= 2 and src[end - 2:end + 2] in (" -}}", "\t-}}", "\n-}}")
        inner_end = end - 1 if trim_next else end
        pieces.append(Piece(True, src[start:inner_end], start))
        i = end + 2


def _action_end(src: str, start: int, name: str) -> int:
    """Index of the `}}` closing an action (skipping quoted strings and comments)."""
    i = start
    while i < len(src):
        if src.startswith("}}", i):
            return i
        c = src[i]
        if c in "\"'`":
            close = _quote_end(src, i)
            if close < 0:
                break
            i = close + 1
            continue
        if src.startswith("/*", i):
            close = src.find("*/", i + 2)
            if close < 0:
                raise TemplateError(f"template: {name}:{line_of(src, i)}: unclosed comment")
            i = close + 2
            continue
        i += 1
    raise TemplateError(f"template: {name}:{line_of(src, start)}: unclosed action")


def _quote_end(src: str, i: int) -> int:
    q = src[i]
    j = i + 1
    while j < len(src):
        if src[j] == "\\" and q != "`":
            j += 2
            continue
        if src[j] == q:
            return j
        if src[j] == "\n" and q != "`":
            return -1
        j += 1
    return -1


def line_of(src: str, pos: int) -> int:
    """1-based line number of a source offset."""
    return src.count("\n", 0, pos) + 1


def tokenize(piece: Piece, src: str, name: str) -> list[Token]:
    """Tokens of one action."""
    out: list[Token] = []
    text = piece.text
    i = 0
    while i < len(text):
        m = _TOKEN_RE.match(text, i)
        if m is None:
            raise TemplateError(
                f"template: {name}:{line_of(src, piece.pos + i)}: unexpected {text[i]!r} in command"
            )
        kind = m.lastgroup or ""
        if kind not in ("ws", "comment"):
            if kind == "ident" and m.group() in _KEYWORDS:
                kind = "keyword"
            if kind in ("op", "decl"):
                kind = m.group()
            out.append(Token(kind, m.group(), piece.pos + i))
        i = m.end()
    out.append(Token("eof", "", piece.pos + len(text)))
    return _join_chains(out)


def _join_chains(tokens: list[Token]) -> list[Token]:
    """Attach `.field` tokens that directly follow a variable, `)` or field into `chain` tokens."""
    out: list[Token] = []
    for tok in tokens:
        prev = out[-1] if out else None
        adjacent = prev is not None and prev.pos + len(prev.text) == tok.pos
        if tok.kind == "field" and adjacent and prev is not None and prev.kind in ("var", "field", ")", "chain"):
            if prev.kind == ")":
                out.append(Token("chain", tok.text, tok.pos))
            else:
                prev.text += tok.text
            continue
        out.append(tok)
    return out


# ---------------------------------------------------------------------------------------------
# Syntax tree
# ---------------------------------------------------------------------------------------------

@dataclass
class Node:
    """Base of the syntax tree; `pos` is a source offset for error messages."""

    pos: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Lit(Node):
    value: Any


@dataclass
class Field(Node):
    names: list[str]  # [] is dot itself


@dataclass
class Var(Node):
    name: str
    names: list[str]


@dataclass
class Ident(Node):
    name: str


@dataclass
class Chain(Node):
    node: Node
    names: list[str]


@dataclass
class Command(Node):
    args: list[Node]


@dataclass
class Pipe(Node):
    decl: list[str]
    assign: bool
    cmds: list[Command]


@dataclass
class Action(Node):
    pipe: Pipe


@dataclass
class Branch(Node):
    kind: str  # if range with
    pipe: Pipe
    body: list[Node]
    else_body: list[Node] | None


@dataclass
class Include(Node):
    name: str
    pipe: Pipe | None


@dataclass
class Loop(Node):
    kind: str  # break continue


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------

class _Parser:
    """Recursive descent over pieces; `define`d templates are collected in `defines`."""

    def __init__(self, name: str, src: str, funcs: FuncMap) -> None:
        self.name = name
        self.src = src
        self.funcs = funcs
        self.pieces = split_source(src, name)
        self.i = 0
        self.defines: dict[str, list[Node]] = {}
        self.toks: list[Token] = []
        self.t = 0
        self.range_depth = 0

    def error(self, pos: int, msg: str) -> TemplateError:
        return TemplateError(f"template: {self.name}:{line_of(self.src, pos)}: {msg}")

    def parse(self) -> list[Node]:
        body, stop = self.parse_list()
        if stop is not None:
            raise self.error(stop.pos, f"unexpected {{{{{stop.text}}}}}")
        return body

    def parse_list(self) -> tuple[list[Node], Token | None]:
        """Nodes until `end`/`else` (returned as the stop token) or the end of the source."""
        nodes: list[Node] = []
        while self.i < len(self.pieces):
            piece = self.pieces[self.i]
            self.i += 1
            if not piece.is_action:
                if piece.text:
                    nodes.append(Text(piece.pos, piece.text))
                continue
            self.toks, self.t = tokenize(piece, self.src, self.name), 0
            first = self.toks[0]
            if first.kind == "eof":
                if piece.text.strip():
                    continue  # a comment
                raise self.error(piece.pos, "missing value for command")
            if first.kind == "keyword" and first.text in ("end", "else"):
                self.t = 1
                return nodes, first
            node = self.action(first)
            if node is not None:
                nodes.append(node)
        return nodes, None

    def next(self) -> Token:
        tok = self.toks[self.t]
        self.t += 1
        return tok

    def peek(self) -> Token:
        return self.toks[self.t]

    def action(self, first: Token) -> Node | None:
        if first.kind != "keyword":
            return Action(first.pos, self.pipeline(first.pos, "command"))
        self.next()
        kw = first.text
        if kw in ("if", "with", "range"):
            return self.branch(kw, first.pos)
        if kw in ("template", "block"):
            return self.include(kw, first.pos)
        if kw == "define":
            self.define(first.pos)
            return None
        if kw in ("break", "continue"):
            if self.range_depth == 0:
                raise self.error(first.pos, f"{{{{{kw}}}}} outside {{{{range}}}}")
            self.expect_eof(kw)
            return Loop(first.pos, kw)
        raise self.error(first.pos, f"unexpected {kw}")

    def expect_eof(self, ctx: str) -> None:
        tok = self.peek()
        if tok.kind != "eof":
            raise self.error(tok.pos, f"unexpected {tok.text!r} in {ctx}")

    def branch(self, kw: str, pos: int) -> Node:
        pipe = self.pipeline(pos, kw)
        self.range_depth += kw == "range"
        body, stop = self.parse_list()
        self.range_depth -= kw == "range"
        if stop is None:
            raise self.error(pos, f"unexpected EOF in {kw}")
        else_body: list[Node] | None = None
        if stop.text == "else":
            nxt = self.peek()
            if nxt.kind == "keyword" and nxt.text in ("if", "with") and kw != "range":
                self.next()
                else_body = [self.branch(nxt.text, nxt.pos)]
            else:
                self.expect_eof("else")
                else_body, stop2 = self.parse_list()
                if stop2 is None or stop2.text != "end":
                    raise self.error(pos, f"expected end; found {stop2.text if stop2 else 'EOF'}")
                self.expect_eof("end")
        else:
            self.expect_eof("end")
        return Branch(pos, kw, pipe, body, else_body)

    def include(self, kw: str, pos: int) -> Node:
        tok = self.next()
        if tok.kind not in ("string", "raw"):
            raise self.error(tok.pos, f"unexpected {tok.text!r} in {kw} clause")
        name = _unquote(tok.text)
        pipe = None if self.peek().kind == "eof" else self.pipeline(pos, kw)
        if kw == "block":
            body, stop = self.parse_list()
            if stop is None or stop.text != "end":
                raise self.error(pos, "unexpected EOF in block")
            self.defines[name] = body
        return Include(pos, name, pipe)

    def define(self, pos: int) -> None:
        tok = self.next()
        if tok.kind not in ("string", "raw"):
            raise self.error(tok.pos, "define: expected name")
        self.expect_eof("define clause")
        body, stop = self.parse_list()
        if stop is None or stop.text != "end":
            raise self.error(pos, "unexpected EOF in define")
        self.defines[_unquote(tok.text)] = body

    def pipeline(self, pos: int, ctx: str) -> Pipe:
        decl: list[str] = []
        assign = False
        save = self.t
        while self.peek().kind == "var":
            decl.append(self.next().text)
            nxt = self.next()
            if nxt.kind in (":=", "="):
                assign = nxt.kind == "="
                break
            if nxt.kind == "," and ctx == "range":
                continue
            decl, self.t = [], save
            break
        cmds: list[Command] = []
        while True:
            cmds.append(self.command())
            tok = self.peek()
            if tok.kind == "|":
                self.next()
                continue
            if tok.kind in ("eof", ")"):
                break
            raise self.error(tok.pos, f"unexpected {tok.text!r} in {ctx}")
        return Pipe(pos, decl, assign, cmds)

    def command(self) -> Command:
        args: list[Node] = []
        start = self.peek().pos
        while self.peek().kind not in ("eof", "|", ")"):
            args.append(self.operand())
        if not args:
            raise self.error(start, "missing value for command")
        return Command(start, args)

    def operand(self) -> Node:
        tok = self.next()
        node = self.term(tok)
        if self.peek().kind == "chain":
            names: list[str] = []
            while self.peek().kind == "chain":
                names += self.next().text[1:].split(".")
            node = Chain(tok.pos, node, names)
        return node

    def term(self, tok: Token) -> Node:
        k = tok.kind
        if k == "field":
            return Field(tok.pos, tok.text[1:].split("."))
        if k == "dot":
            return Field(tok.pos, [])
        if k == "var":
            name, *names = tok.text.split(".")
            return Var(tok.pos, name, names)
        if k == "ident":
            return self.ident(tok)
        if k in ("string", "raw", "char", "number"):
            return Lit(tok.pos, _literal(tok, self))
        if k == "(":
            pipe = self.pipeline(tok.pos, "parenthesized pipeline")
            if self.next().kind != ")":
                raise self.error(tok.pos, "unclosed left paren")
            return pipe
        raise self.error(tok.pos, f"unexpected {tok.text or 'EOF'!r} in operand")

    def ident(self, tok: Token) -> Node:
        if tok.text in ("true", "false"):
            return Lit(tok.pos, tok.text == "true")
        if tok.text == "nil":
            return Lit(tok.pos, None)
        if tok.text not in BUILTINS and tok.text not in self.funcs:
            raise self.error(tok.pos, f'function "{tok.text}" not defined')
        return Ident(tok.pos, tok.text)


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    try:
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape").encode(
            "latin-1", "backslashreplace"
        ).decode("utf-8", "replace") if "\\" in body else body
    except UnicodeDecodeError as exc:
        raise TemplateError(f"invalid string literal {text}") from exc


def _literal(tok: Token, parser: _Parser) -> Any:
    if tok.kind in ("string", "raw"):
        return _unquote(tok.text)
    if tok.kind == "char":
        return ord(_unquote('"' + tok.text[1:-1] + '"')[0])
    text = tok.text.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return float(text)
    except ValueError:
        raise parser.error(tok.pos, f"bad number syntax: {tok.text!r}") from None


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------

class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass
class _State:
    tmpl: Template
    out: list[str]
    vars: list[tuple[str, Any]] = field(default_factory=list)
    depth: int = 0


class Template:
    """A parsed template; `execute` renders it. Parse errors raise TemplateError."""

    def __init__(self, name: str, src: str, funcs: FuncMap | None = None) -> None:
        self.name = name
        self.src = src
        self.funcs: FuncMap = funcs or {}
        parser = _Parser(name, src, self.funcs)
        self.root = parser.parse()
        self.defines = parser.defines

    def add(self, other: Template) -> None:
        """Make the `define`d templates of another template callable from this one."""
        self.defines.update(other.defines)

    def execute(self, data: Any, variables: Mapping[str, Any] | None = None) -> str:
        """Render with `.` = data; `variables` are preset (`{"labels": ...}` is `$labels`)."""
        st = _State(self, [], [("$", data)])
        st.vars += [("$" + k.lstrip("$"), v) for k, v in (variables or {}).items()]
        self._walk(st, self.root, data)
        return "".join(st.out)

    def execute_named(self, name: str, data: Any) -> str:
        """Render a `define`d template by name."""
        if name not in self.defines:
            raise TemplateError(f'template: no template "{name}" associated with template "{self.name}"')
        st = _State(self, [], [("$", data)])
        self._walk(st, self.defines[name], data)
        return "".join(st.out)

    # -- errors --------------------------------------------------------------------------
    def _err(self, node: Node, msg: str) -> TemplateError:
        line = line_of(self.src, node.pos)
        col = node.pos - (self.src.rfind("\n", 0, node.pos) + 1)
        at = _node_text(self.src, node)
        return TemplateError(f'template: {self.name}:{line}:{col}: executing "{self.name}" at <{at}>: {msg}')

    # -- walking -------------------------------------------------------------------------
    def _walk(self, st: _State, nodes: list[Node], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, Text):
                st.out.append(node.text)
            elif isinstance(node, Action):
                mark = len(st.vars)
                value = self._pipe(st, node.pipe, dot)
                if not node.pipe.decl:
                    st.out.append(_print_value(value))
                del mark
            elif isinstance(node, Branch):
                self._branch(st, node, dot)
            elif isinstance(node, Include):
                self._include(st, node, dot)
            elif isinstance(node, Loop):
                raise _Break() if node.kind == "break" else _Continue()

    def _branch(self, st: _State, node: Branch, dot: Any) -> None:
        mark = len(st.vars)
        try:
            value = self._pipe(st, node.pipe, dot)
            if node.kind == "range":
                self._range(st, node, value, dot)
            elif truth(value):
                self._walk(st, node.body, value if node.kind == "with" else dot)
            elif node.else_body is not None:
                self._walk(st, node.else_body, dot)
        finally:
            del st.vars[mark:]

    def _range(self, st: _State, node: Branch, value: Any, dot: Any) -> None:
        items = list(_iterate(value, lambda m: self._err(node, m)))
        if not items:
            if node.else_body is not None:
                self._walk(st, node.else_body, dot)
            return
        mark = len(st.vars)
        for key, elem in items:
            del st.vars[mark:]
            if len(node.pipe.decl) == 1:
                st.vars.append((node.pipe.decl[0], elem))
            elif len(node.pipe.decl) == 2:
                st.vars += [(node.pipe.decl[0], key), (node.pipe.decl[1], elem)]
            try:
                self._walk(st, node.body, elem)
            except _Break:
                break
            except _Continue:
                continue

    def _include(self, st: _State, node: Include, dot: Any) -> None:
        body = self.defines.get(node.name)
        if body is None:
            raise self._err(node, f'template "{node.name}" not defined')
        if st.depth > 100:
            raise self._err(node, "exceeded maximum template depth (100000)")
        arg = self._pipe(st, node.pipe, dot) if node.pipe is not None else None
        inner = _State(st.tmpl, st.out, [("$", arg)], st.depth + 1)
        self._walk(inner, body, arg)

    def _pipe(self, st: _State, pipe: Pipe, dot: Any) -> Any:
        value: Any = _NOARG
        for cmd in pipe.cmds:
            value = self._command(st, cmd, dot, value)
        for name in pipe.decl[:1] if len(pipe.decl) == 1 or not pipe.assign else pipe.decl:
            if pipe.assign:
                self._set_var(st, name, value, pipe)
            else:
                st.vars.append((name, value))
        return value

    def _set_var(self, st: _State, name: str, value: Any, node: Node) -> None:
        for i in range(len(st.vars) - 1, -1, -1):
            if st.vars[i][0] == name:
                st.vars[i] = (name, value)
                return
        raise self._err(node, f"undefined variable: {name}")

    def _command(self, st: _State, cmd: Command, dot: Any, final: Any) -> Any:
        head, rest = cmd.args[0], cmd.args[1:]
        if isinstance(head, Ident):
            return self._call_ident(st, head, rest, dot, final)
        if isinstance(head, Field | Chain | Var) and (rest or final is not _NOARG):
            target, name = self._receiver(st, head, dot)
            method = _lookup(target, name, allow_call=False)
            if callable(method):
                args = [self._arg(st, a, dot) for a in rest] + ([] if final is _NOARG else [final])
                return self._invoke(head, name, method, args)
            raise self._err(head, f"can't give argument to non-function {_node_text(self.src, head)}")
        return self._arg(st, head, dot)

    def _receiver(self, st: _State, node: Node, dot: Any) -> tuple[Any, str]:
        """The object holding the last name of a field chain, and that name."""
        if isinstance(node, Field):
            return self._fields(node, dot, node.names[:-1]), node.names[-1] if node.names else ""
        if isinstance(node, Var):
            base = self._var(st, node)
            return self._fields(node, base, node.names[:-1]), node.names[-1] if node.names else ""
        assert isinstance(node, Chain)
        base = self._arg(st, node.node, dot)
        return self._fields(node, base, node.names[:-1]), node.names[-1]

    def _call_ident(self, st: _State, head: Ident, rest: list[Node], dot: Any, final: Any) -> Any:
        name = head.name
        if name in ("and", "or"):
            return self._and_or(st, head, rest, dot, final)
        args = [self._arg(st, a, dot) for a in rest] + ([] if final is _NOARG else [final])
        fn = self.funcs.get(name) or BUILTINS.get(name)
        if fn is None:
            raise self._err(head, f'"{name}" is not a defined function')
        return self._invoke(head, name, fn, args)

    def _and_or(self, st: _State, head: Ident, rest: list[Node], dot: Any, final: Any) -> Any:
        nodes: list[Any] = [*rest] + ([] if final is _NOARG else [Lit(head.pos, final)])
        if not nodes:
            raise self._err(head, f"wrong number of args for {head.name}: want at least 1 got 0")
        value: Any = None
        for n in nodes:
            value = self._arg(st, n, dot)
            if truth(value) == (head.name == "or"):
                return value
        return value

    def _invoke(self, node: Node, name: str, fn: Callable[..., Any], args: list[Any]) -> Any:
        try:
            return fn(*args)
        except TemplateError:
            raise
        except TypeError as exc:
            raise self._err(node, f"error calling {name}: {exc}") from None
        except Exception as exc:
            raise self._err(node, f"error calling {name}: {exc}") from None

    def _arg(self, st: _State, node: Node, dot: Any) -> Any:
        if isinstance(node, Lit):
            return node.value
        if isinstance(node, Field):
            return self._fields(node, dot, node.names)
        if isinstance(node, Var):
            return self._fields(node, self._var(st, node), node.names)
        if isinstance(node, Pipe):
            mark = len(st.vars)
            try:
                return self._pipe(st, node, dot)
            finally:
                del st.vars[mark:]
        if isinstance(node, Chain):
            return self._fields(node, self._arg(st, node.node, dot), node.names)
        if isinstance(node, Ident):
            return self._call_ident(st, node, [], dot, _NOARG)
        raise self._err(node, "cannot evaluate")

    def _var(self, st: _State, node: Var) -> Any:
        for name, value in reversed(st.vars):
            if name == node.name:
                return value
        raise self._err(node, f"undefined variable: {node.name}")

    def _fields(self, node: Node, value: Any, names: list[str]) -> Any:
        for name in names:
            if value is None:
                raise self._err(node, f"nil pointer evaluating interface {{}}.{name}")
            try:
                value = _lookup(value, name, allow_call=True)
            except LookupError as exc:
                raise self._err(node, str(exc)) from None
        return value


_NOARG: Any = object()


def _lookup(value: Any, name: str, allow_call: bool) -> Any:
    """`value.name`: a map key ("" when absent), an attribute, or a zero-argument method."""
    if isinstance(value, Mapping):
        return value.get(name, "")
    if name.startswith("_") or not hasattr(value, name):
        raise LookupError(f"can't evaluate field {name} in type {type(value).__name__}")
    attr = getattr(value, name)
    if allow_call and callable(attr):
        return attr()
    return attr


def _iterate(value: Any, err: Callable[[str], TemplateError]) -> Iterator[tuple[Any, Any]]:
    if value is None:
        return
    if isinstance(value, Mapping):
        for k in sorted(value):
            yield k, value[k]
    elif isinstance(value, list | tuple):
        yield from enumerate(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        yield from ((i, i) for i in range(value))
    else:
        raise err(f"range can't iterate over {go_str(value)}")


def _node_text(src: str, node: Node) -> str:
    """The source text of an operand, for error messages."""
    end = node.pos
    depth = 0
    while end < len(src) and not src.startswith("}}", end):
        c = src[end]
        if c == "(":
            depth += 1
        elif c == ")":
            if depth == 0:
                break
            depth -= 1
        elif c in "|" and depth == 0:
            break
        end += 1
    return src[node.pos:end].strip().rstrip("-").strip()


def _print_value(value: Any) -> str:
    if value is None:
        return "<no value>"
    return go_str(value)


# ---------------------------------------------------------------------------------------------
# Builtins
# ---------------------------------------------------------------------------------------------

def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "other"


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("missing argument for comparison")
    for b in others:
        ka, kb = _kind(a), _kind(b)
        if ka != kb and not (a is None or b is None):
            raise TemplateError("incompatible types for comparison")
        if a == b:
            return True
    return False


def _ordered(a: Any, b: Any) -> tuple[Any, Any]:
    ka, kb = _kind(a), _kind(b)
    if ka in ("bool", "other") or kb in ("bool", "other"):
        raise TemplateError("invalid type for comparison")
    if ka != kb:
        raise TemplateError("incompatible types for comparison")
    return a, b


def _lt(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x < y)


def _le(a: Any, b: Any) -> bool:
    x, y = _ordered(a, b)
    return bool(x <= y)


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping):
            item = item.get(key, "")
        elif isinstance(item, list | tuple | str):
            if not isinstance(key, int) or not 0 <= key < len(item):
                raise TemplateError(f"index out of range: {key}")
            item = item[key]
        else:
            raise TemplateError(f"can't index item of type {type(item).__name__}")
    return item


def _slice(item: Any, *idx: int) -> Any:
    if len(idx) > 2:
        idx = idx[:2]
    return item[slice(*idx)] if idx else item


def _len(item: Any) -> int:
    try:
        return len(item)
    except TypeError:
        raise TemplateError(f"len of type {type(item).__name__}") from None


def go_sprint(*args: Any) -> str:
    """fmt.Sprint: spaces between operands when neither side is a string."""
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_str(a)
    return out


_VERB_RE = re.compile(r"%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d+)?)?([a-zA-Z%])")


def go_sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the common verbs (%s %v %d %f %g %e %q %x %X %t %c %o %b %%)."""
    out: list[str] = []
    pos, argi = 0, 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_format_one(flags, width, prec, verb, arg))
    out.append(fmt[pos:])
    if argi < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_go_type(a)}={go_str(a)}" for a in args[argi:]) + ")")
    return "".join(out)


def _go_type(v: Any) -> str:
    return {"bool": "bool", "int": "int", "float": "float64", "string": "string"}.get(_kind(v), "interface {}")


def _format_one(flags: str, width: str | None, prec: str | None, verb: str, arg: Any) -> str:
    spec_prec = f".{prec or 0}" if prec is not None else ""
    kind = _kind(arg)
    if verb in "vs":
        text = go_str(arg)
        if prec is not None and verb == "s":
            text = text[: int(prec or 0)]
    elif verb == "q" and kind == "string":
        text = '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    elif verb == "t" and kind == "bool":
        text = go_str(arg)
    elif verb in "dxXobc" and kind == "int":
        text = chr(arg) if verb == "c" else f"%{flags.replace('0', '')}{verb if verb != 'b' else 'b'}" % arg \
            if verb != "b" else format(arg, "b")
    elif verb in "xX" and kind == "string":
        text = arg.encode().hex()
        text = text.upper() if verb == "X" else text
    elif verb in "feEgG" and kind in ("float", "int"):
        v = float(arg)
        if math.isnan(v) or math.isinf(v):
            text = go_float(v)
        else:
            default = "" if verb in "gG" else ".6"
            text = f"%{flags.replace('0', '')}{spec_prec or default}{verb}" % v
    else:
        return f"%!{verb}({_go_type(arg)}={go_str(arg)})"
    if width:
        w = int(width)
        if "-" in flags:
            text = text.ljust(w)
        elif "0" in flags and kind in ("int", "float"):
            sign = text[0] if text[:1] in "+-" else ""
            text = sign + text[len(sign):].rjust(w - len(sign), "0")
        else:
            text = text.rjust(w)
    return text


def _not(v: Any) -> bool:
    return not truth(v)


def _call(fn: Any, *args: Any) -> Any:
    if not callable(fn):
        raise TemplateError(f"non-function of type {type(fn).__name__}")
    return fn(*args)


def _js(*args: Any) -> str:
    s = go_sprint(*args)
    repl = {"\\": "\\\\", "'": "\\'", '"': "\\\"", "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}
    return "".join(repl.get(c, c) for c in s)


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": lambda *a: a[-1],
    "or": lambda *a: a[-1],
    "not": _not,
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": go_sprint,
    "printf": go_sprintf,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": _le,
    "gt": lambda a, b: not _le(a, b),
    "ge": lambda a, b: not _lt(a, b),
    "html": lambda *a: html.escape(go_sprint(*a)).replace("&#x27;", "&#39;"),
    "js": _js,
    "urlquery": lambda *a: urllib.parse.quote_plus(go_sprint(*a)),
    "call": _call,
}
