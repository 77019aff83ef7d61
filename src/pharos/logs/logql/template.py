"""A Go text/template subset for `line_format` and `label_format`: `{{ .label }}`, pipelines,
`if/else if/else/end`, `{{-`/`-}}` trimming and the functions LogQL users rely on."""

from __future__ import annotations

import base64
import functools
import math
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from pharos.logs.logql.regex import compile_go


class TemplateError(ValueError):
    """A template that does not parse or fails to execute."""


_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|`[^`]*`)|(?P<num>-?\d+(?:\.\d+)?)'
                    r"|(?P<field>\.[a-zA-Z_][a-zA-Z0-9_]*|\.)|(?P<ident>[a-zA-Z_][a-zA-Z0-9_]*)"
                    r"|(?P<op>[|()]))")


@dataclass
class _Cmd:
    args: list[Any]  # ("str", v) ("num", v) ("field", name) ("ident", name) ("pipe", [cmds])


def _tokenize(src: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(src):
        if src[pos:].strip() == "":
            break
        m = _TOKEN.match(src, pos)
        if not m:
            raise TemplateError(f"unexpected {src[pos:].strip()[:10]!r} in action")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _parse_pipeline(tokens: list[tuple[str, str]], pos: int) -> tuple[list[_Cmd], int]:
    cmds, args = [], []
    while pos < len(tokens):
        kind, text = tokens[pos]
        if kind == "op" and text == "|":
            if not args:
                raise TemplateError("missing command before |")
            cmds.append(_Cmd(args))
            args = []
        elif kind == "op" and text == "(":
            inner, pos = _parse_pipeline(tokens, pos + 1)
            args.append(("pipe", inner))
        elif kind == "op" and text == ")":
            break
        elif kind == "str":
            args.append(("str", _unquote(text)))
        elif kind == "num":
            args.append(("num", float(text) if "." in text else int(text)))
        else:
            args.append((kind, text))
        pos += 1
    if not args:
        raise TemplateError("missing value for command")
    cmds.append(_Cmd(args))
    return cmds, pos


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    return str(orjson.loads(text.replace("\\'", "'")))


@dataclass
class _Node:
    kind: str  # text, action, if
    text: str = ""
    pipe: list[_Cmd] | None = None
    branches: list[tuple[list[_Cmd] | None, list[_Node]]] | None = None


@functools.lru_cache(maxsize=1024)
def compile_template(src: str) -> list[_Node]:
    """Parse a template; TemplateError when invalid."""
    pieces: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION.finditer(src):
        text = src[pos : m.start()]
        if m.group(1):
            text = text.rstrip()
        if pieces and pieces[-1][0] == "trim":
            text = text.lstrip()
            pieces.pop()
        pieces.append(("text", text))
        pieces.append(("action", m.group(2).strip()))
        if m.group(3):
            pieces.append(("trim", ""))
        pos = m.end()
    tail = src[pos:]
    if pieces and pieces[-1][0] == "trim":
        tail = tail.lstrip()
        pieces.pop()
    if "{{" in tail:
        raise TemplateError("unclosed action")
    pieces.append(("text", tail))
    nodes, _ = _build(pieces, 0, top=True)
    return nodes


def _build(pieces: list[tuple[str, str]], i: int, top: bool) -> tuple[list[_Node], int]:
    nodes: list[_Node] = []
    while i < len(pieces):
        kind, body = pieces[i]
        if kind == "text":
            if body:
                nodes.append(_Node("text", body))
            i += 1
            continue
        word = body.split(None, 1)[0] if body else ""
        if word in ("end", "else"):
            if top:
                raise TemplateError(f"unexpected {{{{{word}}}}}")
            return nodes, i
        if word == "if":
            node, i = _build_if(pieces, i)
            nodes.append(node)
            continue
        if body.startswith("/*"):
            i += 1
            continue
        nodes.append(_Node("action", pipe=_parse_pipeline(_tokenize(body), 0)[0]))
        i += 1
    if not top:
        raise TemplateError("unexpected EOF: missing {{end}}")
    return nodes, i


def _build_if(pieces: list[tuple[str, str]], i: int) -> tuple[_Node, int]:
    branches: list[tuple[list[_Cmd] | None, list[_Node]]] = []
    cond: list[_Cmd] | None = _parse_pipeline(_tokenize(pieces[i][1][2:]), 0)[0]
    i += 1
    while True:
        body, i = _build(pieces, i, top=False)
        branches.append((cond, body))
        word = pieces[i][1]
        if word == "end":
            return _Node("if", branches=branches), i + 1
        rest = word[4:].strip()
        if rest.startswith("if "):
            cond = _parse_pipeline(_tokenize(rest[3:]), 0)[0]
        elif rest == "":
            cond = None
        else:
            raise TemplateError(f"unexpected {word!r}")
        i += 1


def render(src: str, labels: dict[str, str], line: str, ts_ns: int) -> str:
    """Execute a template with labels as `.name`, `__line__` and `__timestamp__`."""
    ctx = _Ctx(labels, line, ts_ns)
    out: list[str] = []
    _run(compile_template(src), ctx, out)
    return "".join(out)


@dataclass
class _Ctx:
    labels: dict[str, str]
    line: str
    ts_ns: int


def _run(nodes: list[_Node], ctx: _Ctx, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
        elif node.kind == "action":
            out.append(_fmt(_pipe(node.pipe or [], ctx)))
        else:
            for cond, body in node.branches or []:
                if cond is None or _truthy(_pipe(cond, ctx)):
                    _run(body, ctx, out)
                    break


def _truthy(v: object) -> bool:
    return bool(v) and v != 0


def _fmt(v: object) -> str:
    if v is None:
        return "<no value>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
    return str(v)


def _pipe(cmds: list[_Cmd], ctx: _Ctx) -> object:
    value: object = _NO
    for cmd in cmds:
        value = _command(cmd, ctx, value)
    return value


_NO = object()


def _command(cmd: _Cmd, ctx: _Ctx, piped: object) -> object:
    head_kind, head = cmd.args[0]
    if head_kind == "ident" and head not in ("true", "false", "nil"):
        fn = FUNCS.get(head)
        if fn is None:
            raise TemplateError(f'function "{head}" not defined')
        args = [_value(a, ctx) for a in cmd.args[1:]]
        if piped is not _NO:
            args.append(piped)
        try:
            return fn(ctx, *args)
        except TemplateError:
            raise
        except Exception as exc:
            raise TemplateError(f"error calling {head}: {exc}") from None
    if len(cmd.args) > 1 or piped is not _NO:
        raise TemplateError(f"can't give argument to non-function {head}")
    return _value(cmd.args[0], ctx)


def _value(arg: tuple[str, Any], ctx: _Ctx) -> object:
    kind, v = arg
    if kind in ("str", "num"):
        return v
    if kind == "field":
        return ctx.labels if v == "." else ctx.labels.get(v[1:], "")
    if kind == "pipe":
        return _pipe(v, ctx)
    if v in ("true", "false"):
        return v == "true"
    if v == "nil":
        return None
    return _command(_Cmd([arg]), ctx, _NO)


def _num(v: object) -> float:
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v))
    except ValueError:
        return 0.0


def _int(v: object) -> int:
    return int(_num(v))


_VERB = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+))?([a-zA-Z%])")


def _printf(_: _Ctx, fmt: str, *args: object) -> str:
    it = iter(args)

    def one(m: re.Match[str]) -> str:
        flags, width, prec, verb = m.groups()
        if verb == "%":
            return "%"
        v = next(it, None)
        spec = "%" + flags + (width or "") + (f".{prec}" if prec is not None else "")
        if verb in "dxXo":
            return (spec + verb) % _int(v)
        if verb in "feEgG":
            return (spec + verb) % _num(v)
        if verb == "q":
            return (spec + "s") % orjson.dumps(_fmt(v)).decode()
        if verb == "t":
            return "true" if _truthy(v) else "false"
        return (spec + "s") % _fmt(v)

    return _VERB.sub(one, fmt)


_GO_LAYOUT = [("2006", "%Y"), ("01", "%m"), ("02", "%d"), ("15", "%H"), ("04", "%M"), ("05", "%S"),
              ("Jan", "%b"), ("Mon", "%a"), ("MST", "UTC"), ("Z07:00", "Z"), ("-0700", "+0000"),
              (".000000000", ".%f"), (".000000", ".%f"), (".000", ".%f")]


def _go_layout(layout: str) -> str:
    out = layout
    for go, py in _GO_LAYOUT:
        out = out.replace(go, py)
    return out


def _to_date(_: _Ctx, layout: str, value: object) -> datetime:
    return datetime.strptime(str(value), _go_layout(layout)).replace(tzinfo=UTC)


def _date(_: _Ctx, layout: str, value: object) -> str:
    t = value if isinstance(value, datetime) else datetime.fromtimestamp(_num(value), UTC)
    return t.strftime(_go_layout(layout))


def _unix_to_time(_: _Ctx, value: object) -> datetime:
    s = str(value)
    n = int(s) if s.lstrip("-").isdigit() else 0
    div = {10: 1, 13: 10**3, 16: 10**6, 19: 10**9}.get(len(s.lstrip("-")), 1)
    return datetime.fromtimestamp(n / div, UTC)


def _epoch(scale: int) -> Callable[..., int]:
    return lambda _, t: int((t.timestamp() if isinstance(t, datetime) else _num(t)) * scale)


def _s(v: object) -> str:
    return _fmt(v)


FUNCS: dict[str, Callable[..., Any]] = {
    "__line__": lambda c: c.line,
    "__timestamp__": lambda c: datetime.fromtimestamp(c.ts_ns / 1e9, UTC),
    "ToLower": lambda _, s: _s(s).lower(), "ToUpper": lambda _, s: _s(s).upper(),
    "lower": lambda _, s: _s(s).lower(), "upper": lambda _, s: _s(s).upper(),
    "title": lambda _, s: _s(s).title(),
    "Replace": lambda _, s, old, new, n: _s(s).replace(_s(old), _s(new), _int(n)),
    "replace": lambda _, old, new, s: _s(s).replace(_s(old), _s(new)),
    "Trim": lambda _, s, cut: _s(s).strip(_s(cut)), "TrimLeft": lambda _, s, cut: _s(s).lstrip(_s(cut)),
    "TrimRight": lambda _, s, cut: _s(s).rstrip(_s(cut)),
    "TrimPrefix": lambda _, s, p: _s(s).removeprefix(_s(p)), "TrimSuffix": lambda _, s, p: _s(s).removesuffix(_s(p)),
    "TrimSpace": lambda _, s: _s(s).strip(), "trim": lambda _, s: _s(s).strip(),
    "trimAll": lambda _, cut, s: _s(s).strip(_s(cut)),
    "trimPrefix": lambda _, p, s: _s(s).removeprefix(_s(p)), "trimSuffix": lambda _, p, s: _s(s).removesuffix(_s(p)),
    "trunc": lambda _, n, s: _s(s)[: _int(n)] if _int(n) >= 0 else _s(s)[_int(n):],
    "substr": lambda _, a, b, s: _s(s)[_int(a) : _int(b)] if _int(b) >= 0 else _s(s)[_int(a):],
    "contains": lambda _, sub, s: _s(sub) in _s(s),
    "hasPrefix": lambda _, p, s: _s(s).startswith(_s(p)), "hasSuffix": lambda _, p, s: _s(s).endswith(_s(p)),
    "repeat": lambda _, n, s: _s(s) * _int(n),
    "indent": lambda _, n, s: "\n".join(" " * _int(n) + x for x in _s(s).split("\n")),
    "nindent": lambda _, n, s: "\n" + "\n".join(" " * _int(n) + x for x in _s(s).split("\n")),
    "default": lambda _, d, *v: v[0] if v and v[0] not in ("", None, 0, False) else d,
    "printf": _printf,
    "len": lambda _, s: len(s) if isinstance(s, str | dict | list) else len(_s(s)),
    "count": lambda _, sub, s: _s(s).count(_s(sub)),
    "regexReplaceAll": lambda _, rx, s, repl: compile_go(_s(rx), False).sub(
        re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", _s(repl)), _s(s)),
    "regexReplaceAllLiteral": lambda _, rx, s, repl: compile_go(_s(rx), False).sub(lambda m: _s(repl), _s(s)),
    "eq": lambda _, a, *b: any(_s(a) == _s(x) if isinstance(a, str) or isinstance(x, str) else a == x for x in b),
    "ne": lambda _, a, b: _s(a) != _s(b) if isinstance(a, str) or isinstance(b, str) else a != b,
    "lt": lambda _, a, b: a < b if isinstance(a, str) and isinstance(b, str) else _num(a) < _num(b),
    "le": lambda _, a, b: a <= b if isinstance(a, str) and isinstance(b, str) else _num(a) <= _num(b),
    "gt": lambda _, a, b: a > b if isinstance(a, str) and isinstance(b, str) else _num(a) > _num(b),
    "ge": lambda _, a, b: a >= b if isinstance(a, str) and isinstance(b, str) else _num(a) >= _num(b),
    "and": lambda _, *a: next((x for x in a if not _truthy(x)), a[-1]),
    "or": lambda _, *a: next((x for x in a if _truthy(x)), a[-1]),
    "not": lambda _, a: not _truthy(a),
    "add": lambda _, *a: sum(_int(x) for x in a), "sub": lambda _, a, b: _int(a) - _int(b),
    "mul": lambda _, *a: math.prod(_int(x) for x in a), "div": lambda _, a, b: int(_int(a) / _int(b)),
    "mod": lambda _, a, b: int(math.fmod(_int(a), _int(b))),
    "addf": lambda _, *a: sum(_num(x) for x in a), "subf": lambda _, a, *b: _num(a) - sum(_num(x) for x in b),
    "mulf": lambda _, *a: math.prod(_num(x) for x in a), "divf": lambda _, a, b: _num(a) / _num(b),
    "max": lambda _, *a: max(_int(x) for x in a), "min": lambda _, *a: min(_int(x) for x in a),
    "maxf": lambda _, *a: max(_num(x) for x in a), "minf": lambda _, *a: min(_num(x) for x in a),
    "ceil": lambda _, a: float(math.ceil(_num(a))), "floor": lambda _, a: float(math.floor(_num(a))),
    "round": lambda _, a, p=0, *r: round(_num(a), _int(p)),
    "int": lambda _, a: _int(a), "float64": lambda _, a: _num(a),
    "toDate": _to_date, "date": _date, "unixToTime": _unix_to_time,
    "unixEpoch": _epoch(1), "unixEpochMillis": _epoch(1000), "unixEpochNanos": _epoch(10**9),
    "now": lambda _: datetime.now(UTC),
    "urlencode": lambda _, s: urllib.parse.quote_plus(_s(s)), "urldecode": lambda _, s: urllib.parse.unquote_plus(_s(s)),
    "b64enc": lambda _, s: base64.b64encode(_s(s).encode()).decode(),
    "b64dec": lambda _, s: base64.b64decode(_s(s)).decode(errors="replace"),
    "alignLeft": lambda _, n, s: _s(s)[: _int(n)].ljust(_int(n)),
    "alignRight": lambda _, n, s: _s(s)[-_int(n):].rjust(_int(n)),
    "fromJson": lambda _, s: orjson.loads(_s(s)),
}
