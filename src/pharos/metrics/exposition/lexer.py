"""Character-level lexers that reproduce Prometheus's golex scanners (promlex.l, openmetricslex.l).

They are the reference path: slow, but token for token what Prometheus sees, including where a
failed token stops (which shows up in error messages). The fast path in `fastpath.py` only
accepts lines whose tokenisation here is known to be the obvious one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

# Tokens (names as token.String() in Go).
T_INVALID, T_EOF, T_LINEBREAK, T_WHITESPACE = -1, 0, 2, 3
T_HELP, T_TYPE, T_UNIT, T_EOFWORD, T_TEXT, T_COMMENT = 4, 5, 6, 7, 8, 9
T_MNAME, T_QSTRING, T_BOPEN, T_BCLOSE, T_LNAME, T_LVALUE = 11, 12, 13, 14, 15, 16
T_COMMA, T_EQUAL, T_TIMESTAMP, T_VALUE = 17, 18, 19, 20

TOKEN_NAMES = {
    T_INVALID: "INVALID",
    T_EOF: "EOF",
    T_LINEBREAK: "LINEBREAK",
    T_WHITESPACE: "WHITESPACE",
    T_HELP: "HELP",
    T_TYPE: "TYPE",
    T_UNIT: "UNIT",
    T_EOFWORD: "EOFWORD",
    T_TEXT: "TEXT",
    T_COMMENT: "COMMENT",
    T_MNAME: "MNAME",
    T_QSTRING: "QSTRING",
    T_BOPEN: "BOPEN",
    T_BCLOSE: "BCLOSE",
    T_LNAME: "LNAME",
    T_LVALUE: "LVALUE",
    T_COMMA: "COMMA",
    T_EQUAL: "EQUAL",
    T_TIMESTAMP: "TIMESTAMP",
    T_VALUE: "VALUE",
}

# Lexer states.
S_INIT, S_COMMENT, S_META1, S_META2, S_LABELS, S_LVALUE = 0, 1, 2, 3, 4, 5
S_VALUE, S_TIMESTAMP, S_EXEMPLAR, S_EVALUE, S_ETIMESTAMP = 6, 7, 8, 9, 10

# In these states the Go lexer's next() silently steps over NUL bytes.
_NUL_SKIP_STATES = frozenset((S_LVALUE, S_META2, S_COMMENT))

_MNAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_LNAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_MNAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LNAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DIGITS_RE = re.compile(r"[0-9]+")
_BLANKS_RE = re.compile(r"[ \t]+")


class _BaseLexer(ABC):
    """Shared machinery: position, state, golex's next() and quoted-string scanning."""

    def __init__(self, text: str, pos: int = 0) -> None:
        self.b = text
        self.n = len(text)
        self.i = pos
        self.start = pos
        self.state = S_INIT

    def ch(self, j: int) -> str:
        """The byte at j, or '' past the end (golex sees 0 there)."""
        return self.b[j] if j < self.n else ""

    def nxt(self, j: int) -> int:
        """Advance one character as golex's next() does, skipping NULs in some states."""
        j += 1
        if self.state in _NUL_SKIP_STATES:
            while j < self.n and self.b[j] == "\0":
                j += 1
        return j

    def buf(self) -> str:
        return self.b[self.start : self.i]

    def tok(self, token: int, end: int, state: int | None = None) -> int:
        """Finish a token ending at `end`, switching state if given."""
        self.i = end
        if state is not None:
            self.state = state
        return token

    def invalid(self, at: int) -> int:
        self.i = at
        return T_INVALID

    def quoted(self, i: int, allow_newline: bool) -> tuple[bool, int]:
        r"""Scan \"(\\.|[^\\"])*\" from the quote at i; (matched, end or failing position)."""
        j = self.nxt(i)
        while True:
            c = self.ch(j)
            if c == '"':
                return True, self.nxt(j)
            if c == "\\":
                j = self.nxt(j)
                if self.ch(j) in ("", "\n", "\0"):
                    return False, j
            elif c in ("", "\0") or (c == "\n" and not allow_newline):
                return False, j
            j = self.nxt(j)

    def run(self, j: int, stop: str) -> int:
        """Consume characters not in `stop` (nor NUL, nor end) starting at j."""
        while True:
            c = self.ch(j)
            if c in ("", "\0") or c in stop:
                return j
            j = self.nxt(j)

    def regex(self, pattern: re.Pattern[str], i: int) -> int:
        m = pattern.match(self.b, i)
        return m.end() if m else i

    def keyword(self, j: int, word: str) -> tuple[bool, int]:
        """Match `word` at j; (matched, end or failing position)."""
        for expected in word:
            if self.ch(j) != expected:
                return False, j
            j = self.nxt(j)
        return True, j

    def lex(self) -> int:
        """Return the next token; position and text are in i/start/buf()."""
        i = self.i
        if i >= self.n:
            return T_EOF
        self.start = i
        return self._lex(i, self.b[i])

    @abstractmethod
    def _lex(self, i: int, c: str) -> int:
        """The token starting at i with character c, by the current state."""

    def quoted_token(self, i: int, allow_newline: bool, token: int, state: int | None = None) -> int:
        """A quoted string from the quote at i as `token`, or INVALID where the scan failed."""
        ok, end = self.quoted(i, allow_newline)
        return self.tok(token, end, state) if ok else self.invalid(end)

    def _meta1(self, i: int, c: str) -> int:
        if c == '"':
            return self.quoted_token(i, True, T_MNAME, S_META2)
        if c in _MNAME_START:
            return self.tok(T_MNAME, self.regex(_MNAME_RE, i), S_META2)
        return self.invalid(i)

    def _label_set(self, i: int, c: str, allow_newline: bool, close_state: int, equal_state: int) -> int:
        """A token inside `{...}`: label name, quoted name, `}`, `=` or `,`."""
        if c in _LNAME_START:
            return self.tok(T_LNAME, self.regex(_LNAME_RE, i))
        if c == '"':
            return self.quoted_token(i, allow_newline, T_QSTRING)
        if c == "}":
            return self.tok(T_BCLOSE, i + 1, close_state)
        if c == "=":
            return self.tok(T_EQUAL, i + 1, equal_state)
        if c == ",":
            return self.tok(T_COMMA, i + 1)
        return self.invalid(i)

    def _label_value(self, i: int, c: str, allow_newline: bool, state: int) -> int:
        """A quoted label value, then `state`."""
        return self.quoted_token(i, allow_newline, T_LVALUE, state) if c == '"' else self.invalid(i)


class PromLexer(_BaseLexer):
    """promlex.l (Prometheus 3.x, with quoted UTF-8 names)."""

    def _lex(self, i: int, c: str) -> int:
        st = self.state
        if c in " \t" and not (st == S_META2 and self._text_beats_blanks(i)):
            return self.tok(T_WHITESPACE, self.regex(_BLANKS_RE, i))
        if st == S_INIT:
            return self._init(i, c)
        if st == S_COMMENT:
            return self._comment(i)
        if st == S_META1:
            return self._meta1(i, c)
        if st == S_META2:
            return self.tok(T_TEXT, self.run(i, "\n"), S_INIT)
        if st == S_LABELS:
            return self._label_set(i, c, True, S_VALUE, S_LVALUE)
        if st == S_LVALUE:
            return self._label_value(i, c, True, S_LABELS)
        if st == S_VALUE:
            if c == "{":
                return self.tok(T_BOPEN, i + 1, S_LABELS)
            end = self.run(i, "{ \t\n")
            return self.tok(T_VALUE, end, S_TIMESTAMP) if end > i else self.invalid(i)
        return self._timestamp(i, c)

    def _text_beats_blanks(self, i: int) -> bool:
        """In sMeta2 `{C}*` competes with `[ \\t]+`; the longer wins, blanks on a tie."""
        return self.run(i, "\n") > self.regex(_BLANKS_RE, i)

    def _init(self, i: int, c: str) -> int:
        if c == "\0":
            return T_EOF
        if c == "\n":
            return self.tok(T_LINEBREAK, i + 1)
        if c == "#":
            j = self.nxt(i)
            if self.ch(j) in (" ", "\t"):
                self.state = S_COMMENT
                return self._comment(self.regex(_BLANKS_RE, j))
            self.i = j
            return self.consume_comment()
        if c in _MNAME_START:
            return self.tok(T_MNAME, self.regex(_MNAME_RE, i), S_VALUE)
        if c == "{":
            return self.tok(T_BOPEN, i + 1, S_LABELS)
        return self.invalid(i)

    def _comment(self, j: int) -> int:
        word = {"H": "HELP", "T": "TYPE"}.get(self.ch(j))
        if word is not None:
            ok, end = self.keyword(j, word)
            if ok and self.ch(end) in (" ", "\t"):
                token = T_HELP if word == "HELP" else T_TYPE
                return self.tok(token, self.regex(_BLANKS_RE, end), S_META1)
            j = end
        self.i = j
        return self.consume_comment()

    def consume_comment(self) -> int:
        """Gobble the rest of a comment line (Go's consumeComment)."""
        j = self.i
        c = self.ch(j)
        while True:
            if c in ("\0", ""):
                self.i = j
                return T_EOF
            if c == "\n":
                self.i = j
                self.state = S_INIT
                return T_COMMENT
            j = self.nxt(j)
            c = self.ch(j)

    def _timestamp(self, i: int, c: str) -> int:
        if c == "\n":
            return self.tok(T_LINEBREAK, i + 1, S_INIT)
        end = self.regex(_DIGITS_RE, i)
        return self.tok(T_TIMESTAMP, end) if end > i else self.invalid(i)


class OpenMetricsLexer(_BaseLexer):
    """openmetricslex.l (Prometheus 3.x)."""

    def _lex(self, i: int, c: str) -> int:
        return _OM_HANDLERS[self.state](self, i, c)

    def _init(self, i: int, c: str) -> int:
        if c == "#":
            j = self.nxt(i)
            if self.ch(j) != " ":
                return self.invalid(j)
            self.state = S_COMMENT
            j = self.nxt(j)
            return self._comment(j, self.ch(j))
        if c in _MNAME_START:
            return self.tok(T_MNAME, self.regex(_MNAME_RE, i), S_VALUE)
        if c == "{":
            return self.tok(T_BOPEN, i + 1, S_LABELS)
        return self.invalid(i)

    def _comment(self, j: int, c: str) -> int:
        word = {"H": "HELP ", "T": "TYPE ", "U": "UNIT ", "E": "EOF"}.get(c)
        if word is None:
            return self.invalid(j)
        ok, end = self.keyword(j, word)
        if not ok:
            return self.invalid(end)
        if word == "EOF":
            if self.ch(end) == "\n":
                end = self.nxt(end)
            return self.tok(T_EOFWORD, end, S_INIT)
        token = {"H": T_HELP, "T": T_TYPE, "U": T_UNIT}[c]
        return self.tok(token, end, S_META1)

    def _meta2(self, i: int, c: str) -> int:
        if c != " ":
            return self.invalid(i)
        j = self.run(self.nxt(i), "\n")
        if self.ch(j) != "\n":
            return self.invalid(j)
        return self.tok(T_TEXT, self.nxt(j), S_INIT)

    def _value(self, i: int, c: str) -> int:
        if c == "{":
            return self.tok(T_BOPEN, i + 1, S_LABELS)
        return self._spaced(i, c, T_VALUE, S_TIMESTAMP)

    def _spaced(self, i: int, c: str, token: int, state: int | None) -> int:
        """`{S}[^ \\n]+`: a space and a non-empty word."""
        if c != " ":
            return self.invalid(i)
        j = self.nxt(i)
        end = self.run(j, " \n")
        return self.tok(token, end, state) if end > j else self.invalid(j)

    def _labels(self, i: int, c: str) -> int:
        return self._label_set(i, c, allow_newline=True, close_state=S_VALUE, equal_state=S_LVALUE)

    def _exemplar(self, i: int, c: str) -> int:
        return self._label_set(i, c, allow_newline=False, close_state=S_EVALUE, equal_state=S_EVALUE)

    def _lvalue(self, i: int, c: str) -> int:
        return self._label_value(i, c, False, S_LABELS)

    def _timestamp(self, i: int, c: str) -> int:
        if c == "\n":
            return self.tok(T_LINEBREAK, self.nxt(i), S_INIT)
        if c != " ":
            return self.invalid(i)
        j = self.nxt(i)
        if self.ch(j) == "#":
            j2 = self.nxt(j)
            if self.ch(j2) == " ":
                j3 = self.nxt(j2)
                if self.ch(j3) != "{":
                    return self.invalid(j3)
                return self.tok(T_COMMENT, self.nxt(j3), S_EXEMPLAR)
        return self._spaced(i, c, T_TIMESTAMP, None)

    def _evalue(self, i: int, c: str) -> int:
        if c == '"':
            return self._label_value(i, c, False, S_EXEMPLAR)
        return self._spaced(i, c, T_VALUE, S_ETIMESTAMP)

    def _etimestamp(self, i: int, c: str) -> int:
        if c == "\n":
            return self.tok(T_LINEBREAK, self.nxt(i), S_INIT)
        return self._spaced(i, c, T_TIMESTAMP, None)


_OM_HANDLERS = {
    S_INIT: OpenMetricsLexer._init,
    S_COMMENT: lambda lx, i, c: lx._comment(i, c),
    S_META1: OpenMetricsLexer._meta1,
    S_META2: OpenMetricsLexer._meta2,
    S_LABELS: OpenMetricsLexer._labels,
    S_LVALUE: OpenMetricsLexer._lvalue,
    S_VALUE: OpenMetricsLexer._value,
    S_TIMESTAMP: OpenMetricsLexer._timestamp,
    S_EXEMPLAR: OpenMetricsLexer._exemplar,
    S_EVALUE: OpenMetricsLexer._evalue,
    S_ETIMESTAMP: OpenMetricsLexer._etimestamp,
}
