"""LogQL: lexer, parser, AST, log pipeline and template evaluation."""

from pharos.logs.logql.parser import ParseError, parse

__all__ = ["ParseError", "parse"]
