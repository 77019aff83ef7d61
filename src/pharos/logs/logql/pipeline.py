"""Log pipeline stages compiled to closures over (labels, line, ts) and the split into line
filters pushed into the storage scan vs stages run per line."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from pharos.logs.logql import ast as A
from pharos.logs.logql.lexer import parse_bytes, parse_duration
from pharos.logs.logql.pattern import compile_pattern, match_pattern, pattern_regex
from pharos.logs.logql.regex import compile_go
from pharos.logs.logql.template import TemplateError, render
from pharos.storage.logs import LineFilter as StoreFilter

StageFn = Callable[[dict[str, str], str, int], tuple[str, bool]]
ERROR, DETAILS = "__error__", "__error_details__"
_ANSI = re.compile(r"\x1b\[[0-9;]*[a-zA-Z]")
_IPV4 = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9])")
_IPV6 = re.compile(r"(?<![0-9a-fA-F:])[0-9a-fA-F:]*:[0-9a-fA-F:.]+")
_LOGFMT = re.compile(r'\s*([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|[^\s]*))?')
_BAD_CHARS = re.compile(r"[^a-zA-Z0-9_]")


@dataclass
class Plan:
    """Pushed-down filters plus the per-line stages that remain."""

    pushed: list[StoreFilter]
    stages: list[StageFn]
    needs_labels: bool


def plan(stages: tuple[A.Stage, ...], base_names: Callable[[], set[str]] | None = None) -> Plan:
    """Push line filters before the first line-rewriting stage into the scan."""
    pushed: list[StoreFilter] = []
    rest: list[StageFn] = []
    rewriting = False
    needs = False
    for st in stages:
        if isinstance(st, A.LineFilter) and not rewriting and not st.ip:
            pushed.append(_store_filter(st))
            continue
        if isinstance(st, A.LineFormat | A.Decolorize) or (isinstance(st, A.Parser) and st.kind == "unpack"):
            rewriting = True
        if not isinstance(st, A.LineFilter):
            needs = True
        rest.append(compile_stage(st))
    return Plan(pushed, rest, needs)


def _store_filter(st: A.LineFilter) -> StoreFilter:
    negate = st.op.startswith("!")
    if st.op in ("|=", "!="):
        return StoreFilter("contains", st.values, negate)
    if st.op in ("|>", "!>"):
        return StoreFilter("regex", tuple(pattern_regex(v) for v in st.values), negate)
    return StoreFilter("regex", st.values, negate)


def compile_stage(st: A.Stage) -> StageFn:
    """A closure for one stage: (labels, line, ts) -> (line, keep); labels are mutated."""
    if isinstance(st, A.LineFilter):
        test = _line_test(st)
        return lambda lb, line, ts: (line, test(line))
    if isinstance(st, A.LabelFilter):
        pred = label_predicate(st.expr)
        return lambda lb, line, ts: (line, pred(lb))
    if isinstance(st, A.Parser):
        return _parser(st)
    if isinstance(st, A.LineFormat):
        return _line_format(st.template)
    if isinstance(st, A.LabelFormat):
        return _label_format(st)
    if isinstance(st, A.DropKeep):
        return _drop_keep(st)
    return lambda lb, line, ts: (_ANSI.sub("", line), True)


# -- line filters -------------------------------------------------------------------------------
def _line_test(st: A.LineFilter) -> Callable[[str], bool]:
    neg = st.op.startswith("!")
    if st.ip:
        nets = [_ip_matcher(v) for v in st.values]
        return lambda line: any(n(ip) for ip in _ips(line) for n in nets) != neg
    if st.op in ("|=", "!="):
        vals = st.values
        return lambda line: any(v in line for v in vals) != neg
    pats = [compile_go(pattern_regex(v) if st.op in ("|>", "!>") else v, False) for v in st.values]
    return lambda line: any(p.search(line) for p in pats) != neg


def _ips(line: str) -> list[str]:
    return _IPV4.findall(line) + [x for x in _IPV6.findall(line) if x.count(":") >= 2]


def _ip_matcher(spec: str) -> Callable[[str], bool]:
    """Membership test for an ip()/CIDR/range value."""
    spec = spec.strip()
    if "-" in spec:
        lo, hi = (ipaddress.ip_address(x.strip()) for x in spec.split("-", 1))

        def in_range(ip: str) -> bool:
            try:
                a = ipaddress.ip_address(ip)
            except ValueError:
                return False
            return a.version == lo.version and lo <= a <= hi  # type: ignore[operator]

        return in_range
    net = ipaddress.ip_network(spec, strict=False)

    def in_net(ip: str) -> bool:
        try:
            return ipaddress.ip_address(ip) in net
        except ValueError:
            return False

    return in_net


# -- label filters ------------------------------------------------------------------------------
def label_predicate(expr: A.LabelExpr) -> Callable[[dict[str, str]], bool]:
    """A predicate over labels for a label filter expression (Loki's error semantics)."""
    if isinstance(expr, A.LabelBool):
        left, right = label_predicate(expr.left), label_predicate(expr.right)
        if expr.op == "and":
            return lambda lb: left(lb) and right(lb)
        return lambda lb: left(lb) or right(lb)
    if expr.kind == "string":
        return _string_pred(expr)
    if expr.kind == "ip":
        test = _ip_matcher(str(expr.value))
        neg = expr.op == "!="
        return lambda lb: (expr.name in lb and test(lb[expr.name])) != neg
    conv = {"number": float, "duration": lambda s: parse_duration(s) / 1e9, "bytes": parse_bytes}[expr.kind]
    ref = float(expr.value) / (1e9 if expr.kind == "duration" else 1)  # type: ignore[arg-type]
    cmp = _CMPS[expr.op]
    err = {"number": "LabelFilterErr", "duration": "LabelFilterErr", "bytes": "LabelFilterErr"}[expr.kind]

    def pred(lb: dict[str, str]) -> bool:
        if ERROR in lb:
            return True
        v = lb.get(expr.name)
        if v is None:
            return expr.op == "!="
        try:
            x = float(conv(v))  # type: ignore[operator]
        except ValueError as exc:
            lb[ERROR] = err
            lb[DETAILS] = str(exc)
            return True
        return cmp(x, ref)

    return pred


_CMPS: dict[str, Callable[[float, float], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
}


def _string_pred(expr: A.LabelCmp) -> Callable[[dict[str, str]], bool]:
    name, value = expr.name, str(expr.value)
    if expr.op in ("=", "!="):
        neg = expr.op == "!="
        return lambda lb: (lb.get(name, "") == value) != neg
    rx = compile_go(value, True)
    neg = expr.op == "!~"
    return lambda lb: (rx.match(lb.get(name, "")) is not None) != neg


def matcher_test(m: A.Matcher) -> Callable[[dict[str, str]], bool]:
    """A stream-selector matcher as a predicate over labels (absent label = empty)."""
    return _string_pred(A.LabelCmp(m.name, m.op, m.value, "string"))


# -- parsers ------------------------------------------------------------------------------------
def sanitize(key: str) -> str:
    """A label name made from a parsed key (invalid characters -> `_`)."""
    key = _BAD_CHARS.sub("_", key)
    return "_" + key if key[:1].isdigit() else key


def _put(lb: dict[str, str], base: frozenset[str] | None, key: str, value: str) -> None:
    if key in lb and (base is None or key in base):
        key += "_extracted"
    lb[key] = value


def _parser(st: A.Parser) -> StageFn:
    if st.kind == "json":
        return _json_parser(st.params)
    if st.kind == "logfmt":
        return _logfmt_parser(st.params, "--strict" in st.flags, "--keep-empty" in st.flags)
    if st.kind == "regexp":
        rx = compile_go(st.arg or "", False)

        def regexp(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
            m = rx.search(line)
            if m:
                for k, v in m.groupdict().items():
                    if v is not None:
                        _put(lb, None, sanitize(k), v)
            return line, True

        return regexp
    if st.kind == "pattern":
        parts = compile_pattern(st.arg or "")

        def pattern(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
            for k, v in match_pattern(parts, line).items():
                _put(lb, None, k, v)
            return line, True

        return pattern
    return _unpack


def _flatten(obj: dict[str, object], prefix: str, lb: dict[str, str]) -> None:
    for k, v in obj.items():
        key = prefix + sanitize(k) if prefix else sanitize(k)
        if isinstance(v, dict):
            _flatten(v, key + "_", lb)
        elif isinstance(v, list):
            continue
        else:
            _put(lb, None, key, _json_str(v))


def _json_str(v: object) -> str:
    if isinstance(v, str):
        return v
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 1e15:
        return repr(v).removesuffix(".0") if "e" not in repr(v) else repr(v)
    if isinstance(v, dict | list):
        return orjson.dumps(v).decode()
    return str(v)


_PATH = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["([^"]*)"\]')


def _json_path(path: str) -> list[str | int]:
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _PATH.match(path, pos)
        if not m:
            raise ValueError(f"invalid json path {path!r}")
        out.append(int(m.group(2)) if m.group(2) is not None else (m.group(1) or m.group(3) or ""))
        pos = m.end()
    return out


def _walk(doc: object, path: list[str | int]) -> object:
    for p in path:
        if (isinstance(p, int) and isinstance(doc, list) and p < len(doc)) or (isinstance(p, str) and isinstance(doc, dict) and p in doc):
            doc = doc[p]
        else:
            return None
    return doc


def _json_error(lb: dict[str, str], exc: Exception) -> None:
    lb[ERROR] = "JSONParserErr"
    lb[DETAILS] = str(exc)


def _json_parser(params: tuple[tuple[str, str], ...]) -> StageFn:
    paths = [(name, _json_path(p)) for name, p in params]

    def parse(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            _json_error(lb, exc)
            return line, True
        if not paths:
            if isinstance(doc, dict):
                _flatten(doc, "", lb)
            else:
                _json_error(lb, ValueError("Value looks like object, but can't find closing '}' symbol"))
            return line, True
        for name, path in paths:
            v = _walk(doc, path)
            _put(lb, None, name, "" if v is None else _json_str(v))
        return line, True

    return parse


def logfmt_pairs(line: str, strict: bool) -> list[tuple[str, str | None]]:
    """key=value pairs of a logfmt line (value None for a bare key); ValueError in strict mode
    on a malformed pair."""
    out: list[tuple[str, str | None]] = []
    for m in _LOGFMT.finditer(line):
        key, raw = m.group(1), m.group(2)
        if key.startswith('"') or "=" in key:
            if strict:
                raise ValueError(f"logfmt syntax error at pos {m.start() + 1} : unexpected '\"'")
            continue
        if raw is not None and raw.startswith('"'):
            try:
                raw = str(orjson.loads(raw))
            except orjson.JSONDecodeError:
                raw = raw[1:-1]
        out.append((key, raw))
    return out


def _logfmt_parser(params: tuple[tuple[str, str], ...], strict: bool, keep_empty: bool) -> StageFn:
    wanted = {p: n for n, p in params}

    def parse(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
        try:
            pairs = logfmt_pairs(line, strict)
        except ValueError as exc:
            lb[ERROR] = "LogfmtParserErr"
            lb[DETAILS] = str(exc)
            return line, True
        for key, value in pairs:
            if value is None and not keep_empty:
                continue
            if wanted:
                if key in wanted:
                    _put(lb, None, wanted[key], value or "")
                continue
            _put(lb, None, sanitize(key), value or "")
        return line, True

    return parse


def _unpack(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        _json_error(lb, exc)
        return line, True
    if not isinstance(doc, dict):
        return line, True
    for k, v in doc.items():
        if k == "_entry" and isinstance(v, str):
            line = v
        elif isinstance(v, str):
            _put(lb, None, sanitize(k), v)
    return line, True


# -- formatting ---------------------------------------------------------------------------------
def _line_format(template: str) -> StageFn:
    def fmt(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
        try:
            return render(template, lb, line, ts), True
        except TemplateError as exc:
            lb[ERROR] = "TemplateFormatErr"
            lb[DETAILS] = str(exc)
            return line, True

    return fmt


def _label_format(st: A.LabelFormat) -> StageFn:
    def fmt(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
        snapshot = dict(lb)
        for dst, src, is_tmpl in st.items:
            if is_tmpl:
                try:
                    lb[dst] = render(src, snapshot, line, ts)
                except TemplateError as exc:
                    lb[ERROR] = "TemplateFormatErr"
                    lb[DETAILS] = str(exc)
            else:
                value = snapshot.get(src)
                lb.pop(src, None)
                if value is not None:
                    lb[dst] = value
                else:
                    lb.pop(dst, None)
        return line, True

    return fmt


def _drop_keep(st: A.DropKeep) -> StageFn:
    tests = [(name, matcher_test(m) if m else None) for name, m in st.items]

    def drop(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
        for name, test in tests:
            if name in lb and (test is None or test(lb)):
                del lb[name]
        return line, True

    def keep(lb: dict[str, str], line: str, ts: int) -> tuple[str, bool]:
        kept = {n for n, t in tests if n in lb and (t is None or t(lb))}
        for name in [n for n in lb if n not in kept]:
            del lb[name]
        return line, True

    return drop if st.kind == "drop" else keep


def convert_unwrap(value: str | None, conv: str) -> float:
    """Numeric value of an unwrapped label; ValueError when it does not convert."""
    if value is None:
        raise ValueError("label not found")
    if conv in ("duration", "duration_seconds"):
        return parse_duration(value) / 1e9
    if conv == "bytes":
        return float(parse_bytes(value))
    return float(value)
