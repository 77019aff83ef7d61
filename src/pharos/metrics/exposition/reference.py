"""Reference parsers: Prometheus's PromParser and OpenMetricsParser, entry by entry.

Every error message is the one the Go parser returns (model/textparse, Prometheus 3.x, whose
accepted language is 2.42's plus quoted UTF-8 names). The fast path falls back to these for any
line it does not recognise, so they decide what is accepted and how errors read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from pharos.metrics.exposition import lexer as lx
from pharos.metrics.exposition.gofmt import (
    NORMAL_NAN,
    GoNumError,
    go_float_to_ms,
    go_format_f,
    go_parse_float,
    go_parse_int,
    go_quote,
)

PROM_TYPES = {"counter": "counter", "gauge": "gauge", "histogram": "histogram", "summary": "summary",
              "untyped": "unknown"}
OM_TYPES = frozenset(("counter", "gauge", "histogram", "gaugehistogram", "summary", "info", "stateset",
                      "unknown"))

_LVAL_ESCAPE = re.compile(r'\\(["\\n])')
_HELP_ESCAPE = re.compile(r"\\([\\n])")
_UNESCAPED = {'"': '"', "\\": "\\", "n": "\n"}


def unescape_label(s: str) -> str:
    r"""Go's lvalReplacer: \" \\ \n; any other backslash stays."""
    return _LVAL_ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], s) if "\\" in s else s


def unescape_help(s: str) -> str:
    r"""Go's helpReplacer for text-format HELP: \\ and \n only."""
    return _HELP_ESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], s) if "\\" in s else s


def has_invalid_utf8(s: str) -> bool:
    """True when `s` holds surrogate escapes, i.e. the body had invalid UTF-8 there."""
    return not s.isascii() and any(0xDC80 <= ord(c) <= 0xDCFF for c in s)


class GoError(Exception):
    """A parse failure with Go's message and the offset of the entry it occurred in."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(slots=True)
class SeriesEntry:
    key: str
    name: str
    labels: list[tuple[str, str]]
    value: float
    timestamp_ms: int | None
    exemplar: tuple[list[tuple[str, str]], float, int | None] | None = None


@dataclass(slots=True)
class MetaEntry:
    kind: str  # "help", "type", "unit"
    name: str
    text: str


COMMENT = "comment"
EOF = "eof"
Entry = SeriesEntry | MetaEntry | str


class _RefParser:
    """State shared by both reference parsers."""

    lexer: lx.PromLexer | lx.OpenMetricsLexer

    def __init__(self) -> None:
        self.pstart = 0
        self.name: str | None = None

    @property
    def b(self) -> str:
        return self.lexer.b

    def next_token(self) -> int:
        return self.lexer.lex()

    def fail(self, message: str) -> GoError:
        return GoError(message, self.pstart)

    def parse_error(self, expected: str, got: int) -> GoError:
        lex = self.lexer
        e = min(lex.n, lex.i + 1)
        got_text = go_quote(self.b[lex.start : e])
        return self.fail(f"{expected}, got {got_text} ({go_quote(lx.TOKEN_NAMES[got])}) "
                         f"while parsing: {go_quote(self.b[self.pstart : e])}")

    def while_parsing(self, err: Exception) -> GoError:
        return self.fail(f"{err} while parsing: {go_quote(self.b[self.pstart : self.lexer.i])}")

    def float_token(self, text: str) -> float:
        try:
            return go_parse_float(text)
        except GoNumError as err:
            raise self.while_parsing(err) from None

    def meta_name(self, kind: int) -> str:
        t = self.next_token()
        if t != lx.T_MNAME:
            raise self.parse_error("expected metric name after " + lx.TOKEN_NAMES[kind], t)
        name = self.lexer.buf()
        return name[1:-1] if name[0] == '"' and name[-1] == '"' else name

    def meta_text(self, kind: int) -> tuple[str, str]:
        """The metric name and the raw TEXT token of a HELP, TYPE or UNIT line."""
        name = self.meta_name(kind)
        t = self.next_token()
        if t != lx.T_TEXT:
            raise self.fail(f"expected text in {lx.TOKEN_NAMES[kind]}")
        return name, self.lexer.buf()

    def label_set(self, exemplar: bool = False) -> list[tuple[str, str]]:
        """parseLVals: the inside of a brace; sets self.name on a quoted metric name."""
        pairs: list[tuple[str, str]] = []
        t = self.next_token()
        while True:
            if t == lx.T_BCLOSE:
                return pairs
            if t not in (lx.T_LNAME, lx.T_QSTRING):
                raise self.parse_error("expected label name", t)
            quoted, raw = t == lx.T_QSTRING, self.lexer.buf()
            t = self.next_token()
            if quoted and t in (lx.T_COMMA, lx.T_BCLOSE):
                t = self.quoted_name(raw, t, exemplar)
                if t == lx.T_BCLOSE:
                    return pairs
                continue
            pairs.append((raw[1:-1] if quoted else raw, self.label_value(t)))
            t = self.after_label_value()

    def quoted_name(self, raw: str, t: int, exemplar: bool) -> int:
        if exemplar:
            raise self.parse_error("expected label name", t)
        if self.name is not None:
            raise self.fail(f"metric name already set while parsing: {go_quote(self.b[self.pstart : self.lexer.i])}")
        self.name = raw[1:-1]
        return t if t == lx.T_BCLOSE else self.next_token()

    def label_value(self, t: int) -> str:
        if t != lx.T_EQUAL:
            raise self.parse_error("expected equal", t)
        t = self.next_token()
        if t != lx.T_LVALUE:
            raise self.parse_error("expected label value", t)
        raw = self.lexer.buf()
        if has_invalid_utf8(raw):
            raise self.fail(f"invalid UTF-8 label value: {go_quote(raw)}")
        return raw[1:-1]

    def after_label_value(self) -> int:
        raise NotImplementedError

    def suffix(self, key: str, pairs: list[tuple[str, str]], t: int) -> SeriesEntry:
        raise NotImplementedError

    def series_entry(self, t: int) -> SeriesEntry:
        """A series line starting with token t (a name or a brace), else the start-token error."""
        if t not in (lx.T_MNAME, lx.T_BOPEN):
            raise self.parse_error("expected a valid start token", t)
        key, pairs, t2 = self.series_start(t)
        return self.suffix(key, pairs, t2)

    def series_start(self, t: int) -> tuple[str, list[tuple[str, str]], int]:
        """Name and labels of a series line; returns (key, pairs, first token after them)."""
        self.name = None
        pairs: list[tuple[str, str]] = []
        if t == lx.T_MNAME:
            self.name = self.b[self.pstart : self.lexer.i]
            key = self.name
            t = self.next_token()
            if t == lx.T_BOPEN:
                pairs = self.label_set()
                key = self.b[self.pstart : self.lexer.i]
                t = self.next_token()
            return key, pairs, t
        pairs = self.label_set()
        key = self.b[self.pstart : self.lexer.i]
        return key, pairs, self.next_token()

    def check_name(self) -> str:
        if self.name is None:
            raise self.fail(f"metric name not set while parsing: {go_quote(self.b[self.pstart : self.lexer.i])}")
        return self.name

    def series(self, key: str, pairs: list[tuple[str, str]], value: float, ts: int | None) -> SeriesEntry:
        if math.isnan(value):
            value = NORMAL_NAN
        name = unescape_label(self.check_name())
        labels = [(unescape_label(n), unescape_label(v)) for n, v in pairs]
        return SeriesEntry(key, name, labels, value, ts)


class PromReference(_RefParser):
    """PromParser.Next, one entry at a time."""

    def __init__(self, text: str, pos: int = 0) -> None:
        super().__init__()
        self.lexer = lx.PromLexer(text, pos)

    def next_token(self) -> int:
        while True:
            t = self.lexer.lex()
            if t != lx.T_WHITESPACE:
                return t

    def next_entry(self) -> Entry:
        """The next entry, or EOF; raises GoError."""
        while True:
            self.pstart = self.lexer.i
            t = self.next_token()
            if t == lx.T_EOF:
                return EOF
            if t != lx.T_LINEBREAK:
                return self.entry(t)

    def entry(self, t: int) -> Entry:
        if t in (lx.T_HELP, lx.T_TYPE):
            return self.meta(t)
        if t == lx.T_COMMENT:
            t2 = self.next_token()
            if t2 != lx.T_LINEBREAK:
                raise self.parse_error("linebreak expected after comment", t2)
            return COMMENT
        return self.series_entry(t)

    def meta(self, kind: int) -> MetaEntry:
        name, buf = self.meta_text(kind)
        text = buf[1:] if len(buf) > 1 else ""
        if kind == lx.T_TYPE and text not in PROM_TYPES:
            raise self.fail(f"invalid metric type {go_quote(text)}")
        if kind == lx.T_HELP and has_invalid_utf8(text):
            raise self.fail(f"help text {go_quote(text)} is not a valid utf8 string")
        t = self.next_token()
        if t != lx.T_LINEBREAK:
            raise self.parse_error("linebreak expected after metadata", t)
        if kind == lx.T_TYPE:
            return MetaEntry("type", name, PROM_TYPES[text])
        return MetaEntry("help", name, unescape_help(text))

    def after_label_value(self) -> int:
        t = self.next_token()
        return self.next_token() if t == lx.T_COMMA else t

    def suffix(self, key: str, pairs: list[tuple[str, str]], t: int) -> SeriesEntry:
        self.check_name()
        if t != lx.T_VALUE:
            raise self.parse_error("expected value after metric", t)
        value = self.float_token(self.lexer.buf())
        ts: int | None = None
        t = self.next_token()
        if t == lx.T_TIMESTAMP:
            try:
                ts = go_parse_int(self.lexer.buf())
            except GoNumError as err:
                raise self.while_parsing(err) from None
            t2 = self.next_token()
            if t2 != lx.T_LINEBREAK:
                raise self.parse_error("expected next entry after timestamp", t2)
        elif t != lx.T_LINEBREAK:
            raise self.parse_error("expected timestamp or new record", t)
        return self.series(key, pairs, value, ts)


class OpenMetricsReference(_RefParser):
    """OpenMetricsParser.Next, one entry at a time."""

    def __init__(self, text: str, pos: int = 0) -> None:
        super().__init__()
        self.lexer = lx.OpenMetricsLexer(text, pos)

    def next_entry(self) -> Entry:
        """The next entry, or EOF after a valid `# EOF`; raises GoError."""
        self.pstart = self.lexer.i
        t = self.next_token()
        if t == lx.T_EOFWORD:
            if self.next_token() != lx.T_EOF:
                raise self.fail("unexpected data after # EOF")
            return EOF
        if t == lx.T_EOF:
            raise self.fail("data does not end with # EOF")
        if t in (lx.T_HELP, lx.T_TYPE, lx.T_UNIT):
            return self.meta(t)
        return self.series_entry(t)

    def meta(self, kind: int) -> MetaEntry:
        name, buf = self.meta_text(kind)
        text = buf[1:-1] if len(buf) > 1 else ""
        if kind == lx.T_TYPE:
            if text not in OM_TYPES:
                raise self.fail(f"invalid metric type {go_quote(text)}")
            return MetaEntry("type", name, text)
        if kind == lx.T_HELP:
            if has_invalid_utf8(text):
                raise self.fail(f"help text {go_quote(text)} is not a valid utf8 string")
            return MetaEntry("help", name, unescape_label(text))
        if text and (not name.endswith(text) or len(name) < len(text) + 1 or name[-len(text) - 1] != "_"):
            raise self.fail(f"unit {go_quote(text)} not a suffix of metric {go_quote(name)}")
        return MetaEntry("unit", name, text)

    def after_label_value(self) -> int:
        t = self.next_token()
        if t == lx.T_COMMA:
            return self.next_token()
        if t != lx.T_BCLOSE:
            raise self.parse_error("expected comma or brace close", t)
        return t

    def value_token(self, t: int, after: str) -> float:
        if t != lx.T_VALUE:
            raise self.parse_error(f"expected value after {after}", t)
        return self.float_token(self.lexer.buf()[1:])

    def timestamp_token(self, what: str) -> int:
        ts = self.float_token(self.lexer.buf()[1:])
        if math.isnan(ts) or math.isinf(ts):
            raise self.fail(f"invalid {what} {go_format_f(ts)}")
        return go_float_to_ms(ts)

    def suffix(self, key: str, pairs: list[tuple[str, str]], t: int) -> SeriesEntry:
        self.check_name()
        value = self.value_token(t, "metric")
        ts: int | None = None
        exemplar = None
        t = self.next_token()
        if t == lx.T_TIMESTAMP:
            ts = self.timestamp_token("timestamp")
            t = self.next_token()
            if t not in (lx.T_LINEBREAK, lx.T_COMMENT):
                raise self.parse_error("expected next entry after timestamp", t)
        elif t == lx.T_EOF:
            raise self.fail("data does not end with # EOF")
        elif t not in (lx.T_LINEBREAK, lx.T_COMMENT):
            raise self.parse_error("expected timestamp or comment", t)
        if t == lx.T_COMMENT:
            exemplar = self.exemplar()
        entry = self.series(key, pairs, value, ts)
        entry.exemplar = exemplar
        return entry

    def exemplar(self) -> tuple[list[tuple[str, str]], float, int | None]:
        pairs = self.label_set(exemplar=True)
        value = self.value_token(self.next_token(), "exemplar labels")
        ts: int | None = None
        t = self.next_token()
        if t == lx.T_EOF:
            raise self.fail("data does not end with # EOF")
        if t == lx.T_TIMESTAMP:
            ts = self.timestamp_token("exemplar timestamp")
            t3 = self.next_token()
            if t3 != lx.T_LINEBREAK:
                raise self.parse_error("expected next entry after exemplar timestamp", t3)
        elif t != lx.T_LINEBREAK:
            raise self.parse_error("expected timestamp or comment", t)
        return pairs, value, ts
