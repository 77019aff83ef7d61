"""A runner for Prometheus's PromQL test scripts (the promqltest `.test` format).

`run_file(path)` returns (passed, failed, skipped, failures); `main(argv)` prints per-file and
total counts. An eval is skipped when it needs native-histogram data: its expected output has a `{{...}}`
histogram, or evaluating it read a native-histogram sample (loaded with `{{...}}` or by
`load_with_nhcb`). The decision never depends on whether the eval passed.
"""

from __future__ import annotations

import math
import re
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import promql_parser as pp

from pharos.metrics.model import STALE_NAN, Labels, is_stale_marker, make_labels
from pharos.metrics.promql.engine import Engine, Limits, QueryResult, parse
from pharos.metrics.promql.memory import MemoryQuerier
from pharos.metrics.promql.syntax import duration_ms, unquoted
from pharos.metrics.promql.values import PromQLError, Scalar, String, Vector

_EVAL = re.compile(
    r"^eval(?P<legacy>_fail|_warn|_info|_ordered)?\s+(?:instant\s+at\s+(?P<at>\S+)|range\s+from\s+"
    r"(?P<start>\S+)\s+to\s+(?P<end>\S+)\s+step\s+(?P<step>\S+))\s+(?P<expr>.+)$"
)
_TIME_FUNCS = {
    "time",
    "timestamp",
    "hour",
    "minute",
    "month",
    "year",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "predict_linear",
}


class SkipEval(Exception):
    """The eval needs native-histogram support."""


class EvalFailure(Exception):
    """An eval did not give the expected outcome."""


def parse_duration(text: str) -> int:
    """A Prometheus duration (or plain number of seconds) in milliseconds."""
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return round(float(text) * 1000)
    total = duration_ms(text, fractions=True)
    if total is None:
        raise ValueError(f"bad duration {text!r}")
    return total


def parse_number(tok: str) -> float:
    """A float in test notation (decimal, hex, Inf, NaN, signed)."""
    t = tok.strip()
    low = t.lower().lstrip("+-")
    if low.startswith("0x"):
        v = float(int(low, 16))
        return -v if t.startswith("-") else v
    if low in ("inf", "nan"):
        v = math.inf if low == "inf" else math.nan
        return -v if t.startswith("-") else v
    return float(t)


def _split_expansion(base: str) -> tuple[float, float] | None:
    for i in range(1, len(base)):
        if base[i] in "+-" and base[i - 1] not in "eE":
            try:
                a, b = parse_number(base[:i]), parse_number(base[i + 1 :])
            except ValueError:
                continue
            return a, (b if base[i] == "+" else -b)
    return None


def parse_values(text: str) -> list[float | None]:
    """Expand value notation; None marks '_' (no sample)."""
    out: list[float | None] = []
    for tok in text.split():
        if tok == "_":
            out.append(None)
            continue
        if tok == "stale":
            out.append(STALE_NAN)
            continue
        if tok.startswith("_x"):
            out.extend([None] * int(tok[2:]))
            continue
        if re.fullmatch(r".+x\d+", tok) is None:
            out.append(parse_number(tok))
            continue
        base, _, times = tok.rpartition("x")
        n = int(times)
        try:
            out.extend([parse_number(base)] * (n + 1))
            continue
        except ValueError:
            pass
        pair = _split_expansion(base)
        if pair is None:
            raise ValueError(f"bad value {tok!r}")
        cur, inc = pair
        for _ in range(n + 1):
            out.append(cur)
            cur += inc
    return out


def _value_tokens(text: str) -> list[str]:
    """Whitespace-separated tokens, keeping `{{...}}` histogram literals (and suffixes) whole."""
    tokens: list[str] = []
    cur, depth = "", 0
    for c in text:
        depth += c == "{"
        depth -= c == "}"
        if c.isspace() and depth == 0:
            if cur:
                tokens.append(cur)
            cur = ""
        else:
            cur += c
    if cur:
        tokens.append(cur)
    return tokens


def split_histogram_values(text: str) -> tuple[list[float | None], list[int]]:
    """Float values (None where no float sample) and the step indexes of histogram samples."""
    floats: list[float | None] = []
    hist: list[int] = []
    for tok in _value_tokens(text):
        if "{{" not in tok:
            floats.extend(parse_values(tok))
            continue
        m = re.search(r"\}\}x(\d+)$", tok)
        n = int(m.group(1)) + 1 if m else 1
        hist.extend(range(len(floats), len(floats) + n))
        floats.extend([None] * n)
    return floats, hist


def split_series(line: str) -> tuple[str, str]:
    """Split `metric{labels} values` into the descriptor and the values text."""
    depth = 0
    for i, c in unquoted(line):
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return line[: i + 1], line[i + 1 :]
        elif c.isspace() and depth == 0:
            return line[:i], line[i:]
    return line, ""


def parse_labels(desc: str) -> Labels:
    """Parse a series descriptor into labels via the PromQL parser."""
    desc = desc.strip()
    if desc == "{}":
        return ()
    node: Any = pp.parse(desc)
    pairs = []
    if getattr(node, "name", None):
        pairs.append(("__name__", node.name))
    for m in node.matchers.matchers:
        pairs.append((m.name, m.value))
    return make_labels(pairs)


@dataclass
class EvalCmd:
    """One eval command and its expectations."""

    line: int
    expr: str
    start: int
    end: int
    step: int
    instant: bool
    fail: bool = False
    fail_msg: str | None = None
    fail_regex: str | None = None
    ordered: bool = False
    expect_string: str | None = None
    range_vector: tuple[int, int, int] | None = None
    warn: list[tuple[str, str | None]] = field(default_factory=list)
    info: list[tuple[str, str | None]] = field(default_factory=list)
    no_warn: bool = False
    no_info: bool = False
    scalar: float | None = None
    series: list[tuple[Labels, list[float | None]]] = field(default_factory=list)
    histogram: bool = False


def _parse_expect(cmd: EvalCmd, body: str) -> None:
    kind, _, rest = body.partition(" ")
    rest = rest.strip()
    msg: tuple[str, str | None] = ("", None)
    if rest.startswith("msg:"):
        msg = ("msg", rest[4:].strip())
    elif rest.startswith("regex:"):
        msg = ("regex", rest[6:].strip())
    if kind == "fail":
        cmd.fail = True
        if msg[0] == "msg":
            cmd.fail_msg = msg[1]
        elif msg[0] == "regex":
            cmd.fail_regex = msg[1]
    elif kind in ("warn", "info"):
        getattr(cmd, kind).append(msg)
    elif kind in ("no_warn", "no_info"):
        setattr(cmd, kind, True)
    elif kind == "ordered":
        cmd.ordered = True
    elif kind == "string":
        cmd.expect_string = rest[1:-1]
    elif kind == "range":
        m = re.match(r"vector\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)", rest)
        if m:
            cmd.range_vector = tuple(parse_duration(g) for g in m.groups())  # type: ignore[assignment]


def parse_eval(header: str, body: list[str], line: int) -> EvalCmd:
    m = _EVAL.match(header)
    if m is None:
        raise ValueError(f"line {line}: bad eval {header!r}")
    if m.group("at") is not None:
        t = parse_duration(m.group("at"))
        cmd = EvalCmd(line, m.group("expr"), t, t, 0, True)
    else:
        cmd = EvalCmd(
            line,
            m.group("expr"),
            parse_duration(m.group("start")),
            parse_duration(m.group("end")),
            parse_duration(m.group("step")),
            False,
        )
    legacy = m.group("legacy")
    cmd.fail = legacy == "_fail"
    cmd.ordered = legacy == "_ordered"
    if legacy == "_warn":
        cmd.warn.append(("", None))
    if legacy == "_info":
        cmd.info.append(("", None))
    for text in body:
        if text.startswith("expect "):
            _parse_expect(cmd, text[7:].strip())
        elif text.startswith("expected_fail_message"):
            cmd.fail_msg = text[len("expected_fail_message") :].strip()
        elif text.startswith("expected_fail_regexp"):
            cmd.fail_regex = text[len("expected_fail_regexp") :].strip()
        elif "{{" in text:
            cmd.histogram = True
        else:
            try:
                cmd.scalar = parse_number(text)
                continue
            except ValueError:
                pass
            desc, vals = split_series(text)
            cmd.series.append((parse_labels(desc), parse_values(vals)))
    return cmd


# --------------------------------------------------------------------------------------------
# Comparison


def almost_equal(a: float, b: float, eps: float = 1e-6) -> bool:
    """util/almost.Equal with StaleNaN equal only to StaleNaN."""
    if is_stale_marker(a) or is_stale_marker(b):
        return is_stale_marker(a) and is_stale_marker(b)
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    min_normal = 2.2250738585072014e-308
    if a == 0 or b == 0 or abs_sum < min_normal:
        return diff < eps * min_normal
    return diff / min(abs_sum, sys.float_info.max) < eps


def _fmt(labels: Labels) -> str:
    return "{" + ", ".join(f'{n}="{v}"' for n, v in labels) + "}"


def _compare_vector(cmd: EvalCmd, got: list[tuple[Labels, float]]) -> None:
    exp = {ls: vals for ls, vals in cmd.series}
    if len(exp) != len(cmd.series):
        raise EvalFailure("duplicate expected series")
    seen = {}
    for ls, v in got:
        if ls in seen:
            raise EvalFailure(f"duplicate series {_fmt(ls)} in result")
        seen[ls] = v
        if ls not in exp:
            raise EvalFailure(f"unexpected series {_fmt(ls)} {v}")
        want = exp[ls][0] if exp[ls] else None
        if want is None or not almost_equal(want, v):
            raise EvalFailure(f"{_fmt(ls)}: expected {want}, got {v}")
    missing = [ls for ls in exp if ls not in seen]
    if missing:
        raise EvalFailure(f"missing series {_fmt(missing[0])}")
    if cmd.ordered:
        order = [ls for ls, _ in cmd.series]
        if [ls for ls, _ in got] != order:
            raise EvalFailure("result not in expected order")


def _compare_matrix(
    cmd: EvalCmd, series: list[tuple[Labels, np.ndarray, np.ndarray]], start: int, step: int
) -> None:
    keys = [s[0] for s in series]
    if keys != sorted(keys, key=_fmt) and keys != sorted(keys):
        raise EvalFailure("matrix not sorted by labels")
    exp = {ls: vals for ls, vals in cmd.series}
    got = {s[0]: s for s in series}
    for ls in exp:
        if ls not in got:
            raise EvalFailure(f"missing series {_fmt(ls)}")
    for ls, ts, vals in series:
        if ls not in exp:
            raise EvalFailure(f"unexpected series {_fmt(ls)}")
        want = [(start + i * step, v) for i, v in enumerate(exp[ls]) if v is not None]
        if len(want) != len(ts):
            raise EvalFailure(f"{_fmt(ls)}: expected {len(want)} points, got {len(ts)}: {vals.tolist()}")
        for (wt, wv), t, v in zip(want, ts, vals, strict=True):
            if wt != int(t) or not almost_equal(wv, float(v)):
                raise EvalFailure(f"{_fmt(ls)}: expected {wv}@{wt}, got {v}@{t}")


def _check_result(cmd: EvalCmd, res: QueryResult, t: int | None = None) -> None:
    if cmd.expect_string is not None:
        if not isinstance(res.value, String) or res.value.value != cmd.expect_string:
            raise EvalFailure(f"expected string {cmd.expect_string!r}")
        return
    if cmd.scalar is not None:
        if not isinstance(res.value, Scalar):
            raise EvalFailure(f"expected scalar, got {res.result_type}")
        if not almost_equal(cmd.scalar, float(res.value.values[0])):
            raise EvalFailure(f"expected scalar {cmd.scalar}, got {res.value.values[0]}")
        return
    if cmd.range_vector is not None:
        if res.result_type != "matrix" or not isinstance(res.value, list):
            raise EvalFailure("expected range vector")
        _compare_matrix(cmd, res.value, cmd.range_vector[0], cmd.range_vector[2])
        return
    if not cmd.instant:
        if res.result_type != "matrix" or not isinstance(res.value, list):
            raise EvalFailure(f"expected matrix, got {res.result_type}")
        _compare_matrix(cmd, res.value, cmd.start, cmd.step)
        return
    if isinstance(res.value, Scalar):
        raise EvalFailure("expected vector, got scalar")
    if not isinstance(res.value, Vector):
        raise EvalFailure(f"expected vector, got {res.result_type}")
    v = res.value
    _compare_vector(cmd, [(v.labels[i], float(v.values[i, 0])) for i in range(v.n) if v.present[i, 0]])


def _check_annotations(cmd: EvalCmd, res: QueryResult) -> None:
    for kind, expected, forbid in (("warn", cmd.warn, cmd.no_warn), ("info", cmd.info, cmd.no_info)):
        got = res.warnings if kind == "warn" else res.infos
        if forbid and got:
            raise EvalFailure(f"unexpected {kind} annotation: {got[0]}")
        if expected and not got:
            raise EvalFailure(f"expected {kind} annotation, got none")
        checks = [e for e in expected if e[1] is not None]
        for mode, text in checks:
            if not any(_msg_match(mode, text or "", g) for g in got):
                raise EvalFailure(f"no {kind} annotation matches {text!r}")
        if checks:
            for g in got:
                if not any(_msg_match(mode, text or "", g) for mode, text in checks):
                    raise EvalFailure(f"unexpected {kind} annotation {g!r}")


def _msg_match(mode: str, text: str, got: str) -> bool:
    return got == text if mode == "msg" else re.search(text, got) is not None


# --------------------------------------------------------------------------------------------
# Running


class TestRun:
    """State of one test file: storage and the engine."""

    def __init__(self) -> None:
        self.store = MemoryQuerier()
        limits = Limits(max_samples=10_000, timeout_s=100.0)
        self.engine = Engine(self.store, limits)

    def load(self, interval: int, body: list[str], nhcb: bool) -> None:
        for text in body:
            desc, vals = split_series(text)
            if "@st" in text.split()[0]:
                continue
            labels = parse_labels(desc)
            floats, hist = split_histogram_values(vals)
            ts = [i * interval for i, v in enumerate(floats) if v is not None]
            fv = [v for v in floats if v is not None]
            if ts:
                self.store.add(labels, np.array(ts, np.int64), np.array(fv, np.float64))
            if hist:
                self.store.add_histogram(labels, np.array(hist, np.int64) * interval)
            if nhcb:
                self._nhcb(labels, np.array(ts, np.int64))

    def _nhcb(self, labels: Labels, timestamps: np.ndarray) -> None:
        name = dict(labels).get("__name__", "")
        for suffix in ("_bucket", "_count", "_sum"):
            if name.endswith(suffix):
                base = name[: -len(suffix)]
                rest = [(n, v) for n, v in labels if n not in ("__name__", "le")]
                self.store.add_histogram(make_labels([("__name__", base), *rest]), timestamps)

    def run_eval(self, cmd: EvalCmd) -> None:
        if cmd.histogram:
            raise SkipEval()
        self.store.touched_histogram = False
        try:
            node = parse(cmd.expr)
        except PromQLError as err:
            raise EvalFailure(f"parse error: {err}") from err
        try:
            if cmd.instant:
                self._instant_all(cmd, node)
            else:
                self._one(cmd, lambda: self.engine.range(node, cmd.start, cmd.end, cmd.step))
        except Exception:
            self._skip_if_histogram()
            raise
        self._skip_if_histogram()

    def _skip_if_histogram(self) -> None:
        """Decided by the data read, never by the outcome: an eval that read native-histogram
        samples is skipped whether it passed or failed."""
        if self.store.touched_histogram:
            raise SkipEval()

    def _one(self, cmd: EvalCmd, run: Any) -> QueryResult | None:
        try:
            res = run()
        except PromQLError as err:
            if not cmd.fail:
                raise EvalFailure(f"unexpected error: {err}") from err
            msg = str(err)
            if cmd.fail_msg is not None and msg != cmd.fail_msg:
                raise EvalFailure(f"error {msg!r} != expected {cmd.fail_msg!r}") from err
            if cmd.fail_regex is not None and not re.search(cmd.fail_regex, msg):
                raise EvalFailure(f"error {msg!r} does not match {cmd.fail_regex!r}") from err
            return None
        if cmd.fail:
            raise EvalFailure("expected an error, query succeeded")
        _check_result(cmd, res)
        _check_annotations(cmd, res)
        return res

    def _instant_all(self, cmd: EvalCmd, node: Any) -> None:
        t = cmd.start
        if cmd.range_vector is not None:
            t = cmd.range_vector[1]
        self._one(cmd, lambda: self.engine.instant(node, t))
        self._range_mode(cmd, node, t)
        if cmd.range_vector is not None or _uses_time(node, cmd.expr):
            return
        times = [t - 1000, 0, t + 1000] if t == 0 else [-10 * t, 0, t // 5, t, 10 * t]
        for at in times:
            self._one(cmd, lambda at=at: self.engine.instant(node, at, at_override=t))

    def _range_mode(self, cmd: EvalCmd, node: Any, t: int) -> None:
        if cmd.fail or cmd.ordered or cmd.expect_string is not None or cmd.range_vector is not None:
            return
        if re.search(r"\b(start|end|range|step)\(\)", cmd.expr):
            return
        try:
            res = self.engine.range(node, t - 60_000, t + 60_000, 60_000)
        except PromQLError as err:
            raise EvalFailure(f"range mode error: {err}") from err
        series = res.value if isinstance(res.value, list) else []
        keys = [s[0] for s in series]
        if keys != sorted(keys):
            raise EvalFailure("range mode matrix not sorted")
        if cmd.scalar is not None:
            pts = [float(v[list(ts).index(t)]) for _, ts, v in series if t in ts]
            if not pts or not almost_equal(cmd.scalar, pts[0]):
                raise EvalFailure(f"range mode: expected scalar {cmd.scalar}, got {pts[:1]}")
            return
        got = [(ls, float(v[list(ts).index(t)])) for ls, ts, v in series if t in ts]
        try:
            _compare_vector(cmd, got)
        except EvalFailure as err:
            raise EvalFailure(f"range mode: {err}") from err


def _uses_time(node: Any, expr: str) -> bool:
    found = False

    def visit(n: Any) -> bool:
        nonlocal found
        if isinstance(n, pp.Call) and n.func.name in _TIME_FUNCS:
            found = True
        return True

    pp.walk(node, visit)
    return found or re.search(r"\b(start|end|range|step)\(\)", expr) is not None


_COMMAND = re.compile(r"^(load|load_with_nhcb|clear|eval|eval_fail|eval_warn|eval_info|eval_ordered)(\s|$)")


def _is_command(text: str) -> bool:
    return _COMMAND.match(text) is not None


def _blocks(lines: list[str]) -> list[tuple[int, str, list[str]]]:
    out: list[tuple[int, str, list[str]]] = []
    cur: tuple[int, str, list[str]] | None = None
    for no, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            if cur:
                out.append(cur)
            cur = None
            continue
        if cur is None or _is_command(text):
            if cur:
                out.append(cur)
            cur = (no, text, [])
        else:
            cur[2].append(text)
    if cur:
        out.append(cur)
    return out


def run_file(path: str | Path) -> tuple[int, int, int, list[str]]:
    """Run one .test file: (passed, failed, skipped, failure descriptions)."""
    lines = Path(path).read_text().splitlines()
    run = TestRun()
    passed = failed = skipped = 0
    failures: list[str] = []
    for no, header, body in _blocks(lines):
        word = header.split()[0]
        if word in ("load", "load_with_nhcb"):
            run.load(parse_duration(header.split()[1]), body, word == "load_with_nhcb")
        elif word == "clear":
            run.store.clear()
        elif word.startswith("eval"):
            try:
                cmd = parse_eval(header, body, no)
                run.run_eval(cmd)
                passed += 1
            except SkipEval:
                skipped += 1
            except (EvalFailure, PromQLError, ValueError) as err:
                failed += 1
                failures.append(f"{Path(path).name}:{no}: {header}: {err}")
            except Exception as err:
                failed += 1
                failures.append(f"{Path(path).name}:{no}: {header}: {type(err).__name__}: {err}")
    return passed, failed, skipped, failures


def main(argv: list[str] | None = None) -> int:
    """Run test files; print per-file and total counts. Exit 1 if any eval failed."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = "-v" in args
    files = [a for a in args if a != "-v"]
    tp = tf = ts = 0
    for f in files:
        p, fl, s, failures = run_file(f)
        tp, tf, ts = tp + p, tf + fl, ts + s
        if verbose:
            for line in failures:
                print("  FAIL", line)
        print(f"{f}: {p} passed, {fl} failed, {s} skipped")
    print(f"total: {tp} passed, {tf} failed, {ts} skipped")
    return 1 if tf else 0


if __name__ == "__main__":
    raise SystemExit(main())

_ = struct
