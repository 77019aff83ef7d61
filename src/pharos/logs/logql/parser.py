"""Recursive-descent LogQL parser (Loki 3.x grammar); errors read
`parse error at line L, col C: ...` as Loki's do."""

from __future__ import annotations

import re

from pharos.logs.logql import ast as A
from pharos.logs.logql.lexer import LexError, Token, tokenize
from pharos.logs.logql.regex import compile_go

RANGE_OPS = {"count_over_time", "rate", "bytes_over_time", "bytes_rate", "sum_over_time", "avg_over_time",
             "min_over_time", "max_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time",
             "first_over_time", "last_over_time", "absent_over_time", "rate_counter"}
UNWRAP_OPS = RANGE_OPS - {"count_over_time", "bytes_over_time", "bytes_rate", "absent_over_time"}
VECTOR_OPS = {"sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "sort", "sort_desc"}
_BIN_PREC = {"or": 1, "and": 2, "unless": 2, "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3,
             "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6}
_CMP = {"==", "!=", ">", ">=", "<", "<="}
_LINE_OPS = {"|=", "!=", "|~", "!~", "|>", "!>"}
_LABEL_CMP = {"=", "!=", "=~", "!~", "==", ">", ">=", "<", "<="}
_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
EMPTY_SELECTOR = ("queries require at least one regexp or equality matcher that does not have an "
                  "empty-compatible value. For instance, app=~\".*\" does not meet this requirement, "
                  "but app=~\".+\" will")


class ParseError(ValueError):
    """A LogQL syntax error with Loki's wording."""

    def __init__(self, msg: str, line: int = 0, col: int = 0) -> None:
        self.msg, self.line, self.col = msg, line, col
        text = f"parse error at line {line}, col {col}: {msg}" if line else f"parse error : {msg}"
        super().__init__(text)


def parse(text: str) -> A.Expr:
    """Parse a LogQL query; ParseError on any invalid input."""
    try:
        tokens = tokenize(text)
    except LexError as exc:
        raise _error(text, exc.pos, str(exc)) from None
    p = _Parser(text, tokens)
    expr = p.expr(0)
    if p.peek().kind != "EOF":
        raise p.fail(f"syntax error: unexpected {p.describe(p.peek())}")
    return expr


def _error(text: str, pos: int, msg: str) -> ParseError:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return ParseError(msg, line, col)


class _Parser:
    def __init__(self, text: str, tokens: list[Token]) -> None:
        self.text, self.toks, self.i = text, tokens, 0

    # -- token helpers --------------------------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def at(self, kind: str, value: object = None, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == kind and (value is None or tok.value == value)

    def accept(self, kind: str, value: object = None) -> Token | None:
        return self.next() if self.at(kind, value) else None

    def expect(self, kind: str, value: object = None, what: str = "") -> Token:
        if not self.at(kind, value):
            want = what or (repr(value) if value is not None else kind.lower())
            raise self.fail(f"syntax error: unexpected {self.describe(self.peek())}, expecting {want}")
        return self.next()

    @staticmethod
    def describe(tok: Token) -> str:
        if tok.kind == "EOF":
            return "end of input"
        return f"{tok.kind} {tok.text}" if tok.kind in ("IDENT", "STRING", "NUMBER") else tok.text

    def fail(self, msg: str, tok: Token | None = None) -> ParseError:
        return _error(self.text, (tok or self.peek()).pos, msg)

    def string(self) -> str:
        return str(self.expect("STRING", what="STRING").value)

    # -- expressions ------------------------------------------------------------------------------
    def expr(self, min_prec: int) -> A.Expr:
        lhs = self.unary()
        while True:
            tok = self.peek()
            op = tok.value if tok.kind in ("OP", "IDENT") else None
            prec = _BIN_PREC.get(op) if isinstance(op, str) else None
            if prec is None or prec < min_prec:
                return lhs
            self.next()
            bool_mod = bool(self.accept("IDENT", "bool"))
            if bool_mod and op not in _CMP:
                raise self.fail("bool modifier can only be used on comparison operators", tok)
            matching = self.matching()
            rhs = self.expr(prec if op == "^" else prec + 1)
            lhs = A.BinOp(str(op), lhs, rhs, bool_mod, matching)

    def matching(self) -> A.VectorMatching:
        if not (self.at("IDENT", "on") or self.at("IDENT", "ignoring")):
            return A.VectorMatching()
        on = self.next().value == "on"
        labels = self.label_list()
        card, include = "one-to-one", ()
        if self.at("IDENT", "group_left") or self.at("IDENT", "group_right"):
            card = "many-to-one" if self.next().value == "group_left" else "one-to-many"
            include = self.label_list() if self.at("OP", "(") else ()
        return A.VectorMatching(on, labels, card, include)

    def unary(self) -> A.Expr:
        if self.at("OP", "-") or self.at("OP", "+"):
            neg = self.next().value == "-"
            inner = self.expr(_BIN_PREC["*"])
            if isinstance(inner, A.Number):
                return A.Number(-inner.value if neg else inner.value)
            return A.BinOp("*", A.Number(-1.0 if neg else 1.0), inner)
        return self.primary()

    def primary(self) -> A.Expr:
        tok = self.peek()
        if tok.kind == "NUMBER":
            self.next()
            return A.Number(float(tok.value))  # type: ignore[arg-type]
        if tok.kind == "OP" and tok.value == "{":
            return self.log_expr()
        if tok.kind == "OP" and tok.value == "(":
            self.next()
            inner = self.expr(0)
            self.expect("OP", ")")
            return inner
        if tok.kind == "IDENT":
            return self.call(str(tok.value))
        raise self.fail(f"syntax error: unexpected {self.describe(tok)}")

    def call(self, name: str) -> A.Expr:
        if name in RANGE_OPS:
            return self.range_agg(name)
        if name in VECTOR_OPS:
            return self.vector_agg(name)
        if name == "label_replace":
            return self.label_replace()
        if name == "vector":
            self.next()
            self.expect("OP", "(")
            value = self.signed_number()
            self.expect("OP", ")")
            return A.VectorLit(value)
        raise self.fail(f"syntax error: unexpected {self.describe(self.peek())}")

    def signed_number(self) -> float:
        sign = -1.0 if self.accept("OP", "-") else 1.0
        return sign * float(self.expect("NUMBER", what="NUMBER").value)  # type: ignore[arg-type]

    def label_replace(self) -> A.Expr:
        self.next()
        self.expect("OP", "(")
        inner = self.expr(0)
        args = []
        for _ in range(4):
            self.expect("OP", ",")
            args.append(self.string())
        self.expect("OP", ")")
        try:
            compile_go(args[3], anchored=True)
        except re.error as exc:
            raise self.fail(f"invalid regex in label_replace: {exc}") from None
        return A.LabelReplace(inner, args[0], args[1], args[2], args[3])

    def grouping(self) -> A.Grouping | None:
        if self.at("IDENT", "by") or self.at("IDENT", "without"):
            without = self.next().value == "without"
            return A.Grouping(self.label_list(), without)
        return None

    def label_list(self) -> tuple[str, ...]:
        self.expect("OP", "(")
        names: list[str] = []
        while not self.at("OP", ")"):
            names.append(str(self.expect("IDENT", what="label name").value))
            if not self.accept("OP", ","):
                break
        self.expect("OP", ")")
        return tuple(names)

    def vector_agg(self, op: str) -> A.Expr:
        self.next()
        grouping = self.grouping()
        self.expect("OP", "(")
        param = None
        if op in ("topk", "bottomk"):
            param = self.signed_number()
            self.expect("OP", ",")
        inner = self.expr(0)
        self.expect("OP", ")")
        after = self.grouping()
        if grouping and after:
            raise self.fail("syntax error: grouping given twice")
        grouping = grouping or after
        if isinstance(inner, A.LogExpr):
            raise self.fail("syntax error: unexpected log query in vector aggregation, expected a metric query")
        if param is not None and (param != int(param) or param < 1):
            raise self.fail(f"invalid parameter for {op}: must be a positive integer")
        if op in ("sort", "sort_desc") and grouping:
            raise self.fail(f"{op} does not take a grouping")
        return A.VectorAgg(op, inner, grouping, param)

    def range_agg(self, op: str) -> A.Expr:
        self.next()
        self.expect("OP", "(")
        param = None
        if op == "quantile_over_time":
            param = self.signed_number()
            self.expect("OP", ",")
        rng = self.log_range()
        self.expect("OP", ")")
        grouping = self.grouping()
        if rng.unwrap is None and op in UNWRAP_OPS - {"rate"}:
            raise self.fail(f"invalid aggregation {op} without unwrap")
        if rng.unwrap is not None and op not in UNWRAP_OPS:
            raise self.fail(f"invalid aggregation {op} with unwrap")
        if grouping is not None and rng.unwrap is None:
            raise self.fail(f"grouping not allowed for {op} aggregation")
        return A.RangeAgg(op, rng, param, grouping)

    # -- log ranges --------------------------------------------------------------------------
    def log_range(self) -> A.LogRange:
        if self.accept("OP", "("):
            inner = self.log_range_body(allow_missing_range=True)
            self.expect("OP", ")")
            rng = inner.range_ns
            if rng == 0:
                rng = self.range_dur()
            offset = inner.offset_ns or self.offset()
            return A.LogRange(inner.log, rng, offset, inner.unwrap, inner.post)
        return self.log_range_body(allow_missing_range=False)

    def log_range_body(self, allow_missing_range: bool) -> A.LogRange:
        matchers = self.selector()
        rng = self.range_dur() if self.at("OP", "[") else 0
        stages, unwrap, post = self.pipeline(allow_unwrap=True)
        if not rng and self.at("OP", "["):
            rng = self.range_dur()
        if not rng and not allow_missing_range:
            raise self.fail("syntax error: unexpected " + self.describe(self.peek()) + ", expecting range")
        offset = self.offset()
        return A.LogRange(A.LogExpr(matchers, stages), rng, offset, unwrap, post)

    def range_dur(self) -> int:
        self.expect("OP", "[")
        tok = self.expect("DURATION", what="duration")
        self.expect("OP", "]")
        if int(tok.value) <= 0:  # type: ignore[call-overload]
            raise self.fail("range must be positive", tok)
        return int(tok.value)  # type: ignore[call-overload]

    def offset(self) -> int:
        if not self.accept("IDENT", "offset"):
            return 0
        neg = bool(self.accept("OP", "-"))
        value = int(self.expect("DURATION", what="duration").value)  # type: ignore[call-overload]
        return -value if neg else value

    # -- log expressions ---------------------------------------------------------------------
    def log_expr(self) -> A.LogExpr:
        matchers = self.selector()
        stages, _, _ = self.pipeline(allow_unwrap=False)
        return A.LogExpr(matchers, stages)

    def selector(self) -> tuple[A.Matcher, ...]:
        start = self.expect("OP", "{")
        matchers = []
        while not self.at("OP", "}"):
            matchers.append(self.matcher())
            if not self.accept("OP", ","):
                break
        self.expect("OP", "}")
        if not any(_non_empty(m) for m in matchers):
            raise self.fail(EMPTY_SELECTOR, start)
        return tuple(matchers)

    def matcher(self) -> A.Matcher:
        name = str(self.expect("IDENT", what="label name").value)
        tok = self.next()
        if tok.kind != "OP" or tok.value not in ("=", "!=", "=~", "!~"):
            raise self.fail(f"syntax error: unexpected {self.describe(tok)}, expecting = or != or =~ or !~", tok)
        value = self.string()
        if tok.value in ("=~", "!~"):
            self.check_regex(value, anchored=True)
        return A.Matcher(name, str(tok.value), value)

    def check_regex(self, pattern: str, anchored: bool) -> None:
        try:
            compile_go(pattern, anchored)
        except re.error as exc:
            raise self.fail(f"error parsing regexp: {exc}") from None

    def pipeline(self, allow_unwrap: bool) -> tuple[tuple[A.Stage, ...], A.Unwrap | None, tuple[A.Stage, ...]]:
        stages: list[A.Stage] = []
        post: list[A.Stage] = []
        unwrap: A.Unwrap | None = None
        while True:
            tok = self.peek()
            if tok.kind == "OP" and tok.value in _LINE_OPS:
                if unwrap is not None:
                    raise self.fail("syntax error: line filter after unwrap")
                stages.append(self.line_filter())
            elif tok.kind == "OP" and tok.value == "|":
                self.next()
                if self.at("IDENT", "unwrap"):
                    if not allow_unwrap or unwrap is not None:
                        raise self.fail("syntax error: unexpected unwrap")
                    unwrap = self.unwrap()
                    continue
                stage = self.stage()
                if unwrap is not None and not isinstance(stage, A.LabelFilter):
                    raise self.fail("syntax error: only label filters are allowed after unwrap")
                (post if unwrap is not None else stages).append(stage)
            else:
                return tuple(stages), unwrap, tuple(post)

    def line_filter(self) -> A.LineFilter:
        op = str(self.next().value)
        values, is_ip = [self.filter_value(op)], self._last_ip
        while self.at("IDENT", "or") and (self.at("STRING", k=1) or self.at("IDENT", "ip", k=1)):
            self.next()
            values.append(self.filter_value(op))
            is_ip = is_ip or self._last_ip
        return A.LineFilter(op, tuple(values), is_ip)

    _last_ip = False

    def filter_value(self, op: str) -> str:
        self._last_ip = False
        if self.at("IDENT", "ip"):
            self.next()
            self.expect("OP", "(")
            value = self.string()
            self.expect("OP", ")")
            if op not in ("|=", "!="):
                raise self.fail("ip() is only allowed with |= and !=")
            self._last_ip = True
            return value
        value = self.string()
        if op in ("|~", "!~"):
            self.check_regex(value, anchored=False)
        if op in ("|>", "!>"):
            from pharos.logs.logql.pattern import compile_pattern

            try:
                compile_pattern(value, line_filter=True)
            except ValueError as exc:
                raise self.fail(str(exc)) from None
        return value

    def unwrap(self) -> A.Unwrap:
        self.next()
        name = str(self.expect("IDENT", what="label name").value)
        if name in ("duration", "duration_seconds", "bytes") and self.accept("OP", "("):
            label = str(self.expect("IDENT", what="label name").value)
            self.expect("OP", ")")
            return A.Unwrap(label, name)
        return A.Unwrap(name)

    def stage(self) -> A.Stage:
        tok = self.peek()
        word = tok.value if tok.kind == "IDENT" else None
        follows_cmp = self.at("OP", k=1) and self.peek(1).value in _LABEL_CMP - {"!=", "!~"}
        if word in ("json", "logfmt") and not follows_cmp:
            self.next()
            return self.parser_params(str(word))
        if word in ("regexp", "pattern") and not follows_cmp:
            self.next()
            arg = self.string()
            self._check_parser(str(word), arg)
            return A.Parser(str(word), arg)
        if word in ("unpack", "decolorize") and not follows_cmp:
            self.next()
            return A.Parser("unpack") if word == "unpack" else A.Decolorize()
        if word == "line_format" and not follows_cmp:
            self.next()
            return A.LineFormat(self._template(self.string()))
        if word == "label_format" and not follows_cmp:
            self.next()
            return self.label_format()
        if word in ("drop", "keep") and not follows_cmp:
            self.next()
            return self.drop_keep(str(word))
        return A.LabelFilter(self.label_or())

    def _template(self, text: str) -> str:
        from pharos.logs.logql.template import TemplateError, compile_template

        try:
            compile_template(text)
        except TemplateError as exc:
            raise self.fail(f"invalid line template: {exc}") from None
        return text

    def _check_parser(self, kind: str, arg: str) -> bool:
        if kind == "regexp":
            try:
                rx = compile_go(arg, anchored=False)
            except re.error as exc:
                raise self.fail(f"invalid regexp: {exc}") from None
            if not rx.groupindex:
                raise self.fail("at least one named capture must be supplied")
            return True
        from pharos.logs.logql.pattern import compile_pattern

        try:
            compile_pattern(arg)
        except ValueError as exc:
            raise self.fail(str(exc)) from None
        return True

    def parser_params(self, kind: str) -> A.Parser:
        flags: list[str] = []
        while self.at("FLAG"):
            flag = str(self.next().value)
            if kind != "logfmt" or flag not in ("--strict", "--keep-empty"):
                raise self.fail(f"syntax error: unexpected flag {flag}")
            flags.append(flag)
        params: list[tuple[str, str]] = []
        while self.at("IDENT") and not (self.at("IDENT", "or") or self.at("IDENT", "and")):
            name = str(self.next().value)
            path = self.string() if self.accept("OP", "=") else name
            params.append((name, path))
            if not self.accept("OP", ","):
                break
        return A.Parser(kind, None, tuple(params), tuple(flags))

    def label_format(self) -> A.LabelFormat:
        items: list[tuple[str, str, bool]] = []
        seen: set[str] = set()
        while True:
            dst = str(self.expect("IDENT", what="label name").value)
            self.expect("OP", "=")
            if self.at("STRING"):
                items.append((dst, self._template(self.string()), True))
            else:
                items.append((dst, str(self.expect("IDENT", what="label name").value), False))
            if dst in seen:
                raise self.fail(f"label_format: multiple label formats for the same label name {dst!r}")
            seen.add(dst)
            if not self.accept("OP", ","):
                return A.LabelFormat(tuple(items))

    def drop_keep(self, kind: str) -> A.DropKeep:
        items: list[tuple[str, A.Matcher | None]] = []
        while True:
            name = str(self.expect("IDENT", what="label name").value)
            if self.at("OP") and self.peek().value in ("=", "!=", "=~", "!~"):
                self.i -= 1
                m = self.matcher()
                items.append((name, m))
            else:
                items.append((name, None))
            if not self.accept("OP", ","):
                return A.DropKeep(kind, tuple(items))

    # -- label filters -----------------------------------------------------------------------
    def label_or(self) -> A.LabelExpr:
        left = self.label_and()
        while self.at("IDENT", "or"):
            self.next()
            left = A.LabelBool("or", left, self.label_and())
        return left

    def label_and(self) -> A.LabelExpr:
        left = self.label_primary()
        while self.at("IDENT", "and") or (self.at("OP", ",") and self.at("IDENT", k=1)):
            self.next()
            left = A.LabelBool("and", left, self.label_primary())
        return left

    def label_primary(self) -> A.LabelExpr:
        if self.accept("OP", "("):
            inner = self.label_or()
            self.expect("OP", ")")
            return inner
        name_tok = self.expect("IDENT", what="label filter")
        op_tok = self.next()
        if op_tok.kind != "OP" or op_tok.value not in _LABEL_CMP:
            raise self.fail(f"syntax error: unexpected {self.describe(op_tok)}", op_tok)
        return self.label_value(str(name_tok.value), str(op_tok.value))

    def label_value(self, name: str, op: str) -> A.LabelCmp:
        tok = self.peek()
        if self.at("IDENT", "ip"):
            self.next()
            self.expect("OP", "(")
            value = self.string()
            self.expect("OP", ")")
            if op not in ("=", "!="):
                raise self.fail("ip() label filter only supports = and !=", tok)
            return A.LabelCmp(name, op, value, "ip")
        if tok.kind == "STRING":
            self.next()
            if op not in ("=", "!=", "=~", "!~", "=="):
                raise self.fail("syntax error: unexpected STRING, expecting NUMBER or DURATION or BYTES", tok)
            if op in ("=~", "!~"):
                self.check_regex(str(tok.value), anchored=True)
            return A.LabelCmp(name, "=" if op == "==" else op, tok.value, "string")
        if op in ("=~", "!~"):
            raise self.fail(f"syntax error: unexpected {self.describe(tok)}, expecting STRING", tok)
        neg = bool(self.accept("OP", "-"))
        tok = self.next()
        kinds = {"NUMBER": "number", "DURATION": "duration", "BYTES": "bytes"}
        if tok.kind not in kinds:
            raise self.fail(f"syntax error: unexpected {self.describe(tok)}", tok)
        value = -tok.value if neg else tok.value  # type: ignore[operator]
        return A.LabelCmp(name, "==" if op == "=" else op, value, kinds[tok.kind])


def _non_empty(m: A.Matcher) -> bool:
    """True when the matcher cannot match an empty value."""
    if m.op == "=":
        return m.value != ""
    if m.op == "=~":
        return compile_go(m.value, anchored=True).match("") is None
    return False
