"""Parse errors rendered as Prometheus renders them: `line:col: parse error: message`.

promql-parser reports no positions (and one generic "invalid promql query" for every grammar
error), so the position is recovered here: the query is split into tokens, the longest prefix
that can still be completed into a valid query is found by bisection (viability is monotone),
and the token after it is the offending one. Type errors point at the operand of the wrong type.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import promql_parser as pp

_TOKEN = re.compile(
    r"""(?P<str>"(?:\\.|[^"\\])*"?|'(?:\\.|[^'\\])*'?|`[^`]*`?)
    |(?P<num>0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?[a-zA-Z0-9]*)
    |(?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<op>==|!=|>=|<=|=~|!~|[-+*/%^=<>(){}\[\],@:.!])
    |(?P<other>\S)""",
    re.VERBOSE,
)
_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
}  # fmt: skip
_SET_OPS = {"and", "or", "unless", "atan2"}
_CLOSE = {"(": ")", "[": "]", "{": "}"}
_COMPLETIONS = ["", "1", "x", '"x"', "5m", '="x"', "(x)", "(x) (x)", "1 offset 1m"]
_SYNTAX: tuple[str, ...] = ("invalid promql query", "unexpected", "unclosed", "unterminated", "bad number")
_SYNTAX += ("bad duration", "no expression found", "illegal")
_TYPE_ERR = re.compile(
    r"expected type (\w+) in (aggregation expression|call to function '([^']*)'), got (\w+)"
)
_TYPE_NAMES = {"matrix": "range vector", "vector": "instant vector"}
_AGGREGATORS = {
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk",
    "count_values", "quantile", "limitk", "limit_ratio",
}  # fmt: skip


@dataclass
class Token:
    """One lexical token: kind, text and byte offset."""

    kind: str
    text: str
    start: int


def tokenize(query: str) -> list[Token]:
    """Tokens of a query (comments skipped), byte offsets as Prometheus counts them."""
    out: list[Token] = []
    pos = 0
    while pos < len(query):
        if query[pos].isspace():
            pos += 1
            continue
        if query[pos] == "#":
            nl = query.find("\n", pos)
            pos = len(query) if nl < 0 else nl
            continue
        m = _TOKEN.match(query, pos)
        assert m is not None and m.lastgroup is not None
        out.append(Token(m.lastgroup, m.group(0), len(query[:pos].encode())))
        pos = m.end()
    return out


def _message(err: BaseException) -> str:
    return str(err).strip() or "invalid promql query"


def _is_syntax(msg: str) -> bool:
    return msg.startswith(_SYNTAX)


def _closers(tokens: list[Token]) -> str:
    stack: list[str] = []
    for t in tokens:
        if t.text in _CLOSE:
            stack.append(_CLOSE[t.text])
        elif stack and t.text == stack[-1]:
            stack.pop()
    return "".join(reversed(stack))


def _viable(query: str, tokens: list[Token], k: int, parse: Callable[[str], Any]) -> bool:
    """Whether the first k tokens can be completed into a syntactically valid query."""
    prefix = _prefix(query, tokens, k)
    closers = _closers(tokens[:k])
    candidates = [f"{prefix} {c}{closers}" for c in _COMPLETIONS]
    candidates += [f"{prefix}{closers} {c}" for c in _COMPLETIONS[1:]] if closers else []
    for candidate in candidates:
        try:
            parse(candidate)
        except BaseException as err:  # ValueError, or a PanicException
            if not _is_syntax(_message(err)):
                return True
            continue
        return True
    return False


def _prefix(query: str, tokens: list[Token], k: int) -> str:
    if k == 0:
        return ""
    last = tokens[k - 1]
    end = last.start + len(last.text.encode())
    return query.encode()[:end].decode(errors="ignore")


def _first_bad_token(query: str, tokens: list[Token], parse: Callable[[str], Any]) -> int | None:
    """Index of the first token no valid query can continue through, or None."""
    if _viable(query, tokens, len(tokens), parse):
        return None
    lo, hi = 0, len(tokens)  # prefix of lo tokens viable, of hi tokens not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _viable(query, tokens, mid, parse):
            lo = mid
        else:
            hi = mid
    return hi - 1


def describe(tok: Token) -> str:
    """Prometheus's description of an unexpected token."""
    if tok.kind == "ident":
        if tok.text.lower() in _KEYWORDS:
            return f"<{tok.text.lower()}>"
        if tok.text.lower() in _SET_OPS:
            return f"<op:{tok.text.lower()}>"
        return f'identifier "{tok.text}"'
    if tok.kind == "num":
        return f'number "{tok.text}"'
    if tok.kind == "str":
        return f"string {tok.text!r}" if tok.text.startswith('"') else f'string "{tok.text}"'
    names = {"(": "left parenthesis", ")": "right parenthesis", "{": "left brace", "}": "right brace"}
    names.update({"[": "left bracket", "]": "right bracket"})
    if tok.text in names:
        return f'{names[tok.text]} "{tok.text}"'
    if tok.text in ("@", ",", ":", "="):
        return {"@": "<@>", ",": '","', ":": '":"', "=": "<=>"}[tok.text]
    return f"<op:{tok.text}>"


def render(query: str, offset: int, message: str) -> str:
    """`line:col: parse error: message` for a byte offset, as Prometheus's ParseErr.Error()."""
    data = query.encode()[:offset]
    line = data.count(b"\n") + 1
    col = offset - data.rfind(b"\n")
    return f"{line}:{col}: parse error: {message}"


def locate(query: str, err: BaseException, parse: Callable[[str], Any] = pp.parse) -> str:
    """The Prometheus rendering of a promql-parser error for `query`."""
    msg = _message(err)
    tokens = tokenize(query)
    end = len(query.encode())
    if not _is_syntax(msg):
        return _semantic(query, tokens, msg)
    bad = _first_bad_token(query, tokens, parse) if tokens else None
    if bad is None:
        if msg == "invalid promql query":
            msg = "unexpected end of input"
        if msg.startswith("unexpected end of input inside brackets"):
            msg = "unclosed left bracket"
        return render(query, end, msg)
    tok = tokens[bad]
    if msg == "invalid promql query":
        msg = f"unexpected {describe(tok)}"
    offset = tok.start
    if msg.startswith("unexpected right parenthesis"):
        offset += 1
    if msg.startswith("illegal regex") and bad >= 2:
        offset = tokens[bad - 2].start
    if msg.startswith(("unexpected end of input", "unclosed")):
        offset = end
    return render(query, offset, msg)


def _semantic(query: str, tokens: list[Token], msg: str) -> str:
    m = _TYPE_ERR.search(msg)
    if m is None:
        return render(query, _first_offset(tokens), msg.replace("'", '"'))
    want, _where, func, got = m.groups()
    site = _find_operand(query, tokens, func, got)
    offset, is_param = site if site else (_first_offset(tokens), False)
    place = (
        f'call to function "{func}"' if func else "aggregation " + ("parameter" if is_param else "expression")
    )
    text = f"expected type {_TYPE_NAMES.get(want, want)} in {place}, got {_TYPE_NAMES.get(got, got)}"
    return render(query, offset, text)


def _first_offset(tokens: list[Token]) -> int:
    return tokens[0].start if tokens else 0


def _find_operand(query: str, tokens: list[Token], func: str | None, got: str) -> tuple[int, bool] | None:
    """Offset of the first call argument whose type is `got`, and whether it is an agg param."""
    raw = query.encode()
    for i, tok in enumerate(tokens[:-1]):
        if tok.kind != "ident" or tokens[i + 1].text != "(":
            continue
        if (func and tok.text != func) or (not func and tok.text not in _AGGREGATORS):
            continue
        args = _split_args(tokens, i + 1)
        for n, (a, b) in enumerate(args):
            text = raw[tokens[a].start : tokens[b].start + len(tokens[b].text.encode())].decode()
            if _kind(text) == got:
                return tokens[a].start, not func and n == 0 and len(args) > 1
    return None


def _split_args(tokens: list[Token], open_idx: int) -> list[tuple[int, int]]:
    """(first, last) token indexes of each argument of the call opened at open_idx."""
    args: list[tuple[int, int]] = []
    depth, first = 0, open_idx + 1
    for j in range(open_idx, len(tokens)):
        t = tokens[j].text
        if t in _CLOSE:
            depth += 1
        elif t in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                if j > first:
                    args.append((first, j - 1))
                break
        elif t == "," and depth == 1:
            args.append((first, j - 1))
            first = j + 1
    return args


def _kind(text: str) -> str | None:
    try:
        node = pp.parse(text)
    except BaseException:  # ValueError, or a PanicException
        return None
    while isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
        node = node.expr
    kinds = {
        pp.VectorSelector: "vector",
        pp.AggregateExpr: "vector",
        pp.MatrixSelector: "matrix",
        pp.SubqueryExpr: "matrix",
        pp.NumberLiteral: "scalar",
        pp.StringLiteral: "string",
    }
    return next((k for cls, k in kinds.items() if isinstance(node, cls)), None)
