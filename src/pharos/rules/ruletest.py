"""`pharos test rules FILE...`: promtool's rule unit tests, with its verdicts and messages.

A test file names `rule_files`, an `evaluation_interval`, a `group_eval_order` and `tests`; each
test loads `input_series` (expanding notation `1+1x10`, `_`, `stale`) at its `interval`,
evaluates every group from time 0 every evaluation interval up to the last `eval_time`, checks
the firing alerts of `alert_rule_test` after the evaluation at or before each `eval_time`, then
runs the `promql_expr_test` queries.
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from pharos.config.units import format_duration, parse_duration
from pharos.metrics.model import Labels, make_labels
from pharos.metrics.promql.memory import MemoryQuerier
from pharos.metrics.promql.promqltest import parse_labels, parse_values
from pharos.rules.api import go_float_e as go_float_lower_e
from pharos.rules.group import Group, GroupOptions
from pharos.rules.rule import AlertContext, AlertingRule, AlertState, RuleEvalError
from pharos.rules.rulefile import GroupDef, RuleFileError, _Decoder, load_rule_file
from pharos.rules.storage import MemoryStorage

Echo = Callable[[str], None]
_FILE_KEYS = {"rule_files", "evaluation_interval", "group_eval_order", "tests"}
_TEST_KEYS = {"name", "interval", "input_series", "alert_rule_test", "promql_expr_test",
              "external_labels", "external_url"}


class RuleTestError(Exception):
    """A test file that cannot be run (bad YAML, rule files, series)."""


@dataclass
class AlertCase:
    eval_time_ms: int
    alertname: str
    expected: list[tuple[Labels, Labels]]


@dataclass
class ExprCase:
    expr: str
    eval_time_ms: int
    samples: list[tuple[str, float]]


@dataclass
class RuleTestGroup:
    name: str
    interval_ms: int
    series: list[tuple[str, str]]
    alerts: list[AlertCase] = field(default_factory=list)
    exprs: list[ExprCase] = field(default_factory=list)
    external_labels: dict[str, str] = field(default_factory=dict)
    external_url: str = ""


# ---------------------------------------------------------------------------------------------
# Output helpers (promtool's formats)
# ---------------------------------------------------------------------------------------------

def go_quote(s: str) -> str:
    """strconv.Quote for label values."""
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def labels_str(ls: Labels) -> str:
    """labels.Labels.String(): {a="b", c="d"}."""
    return "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in ls) + "}"


def go_duration(ms: int) -> str:
    """time.Duration.String() of a whole number of milliseconds: 1m0s, 1h30m0s, 0s."""
    if ms == 0:
        return "0s"
    sign, ms = ("-" if ms < 0 else ""), abs(ms)
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s = rest / 1000
    sec = f"{s:g}s" if rest % 1000 else f"{rest // 1000}s"
    if h:
        return f"{sign}{h}h{m}m{sec}"
    if m:
        return f"{sign}{m}m{sec}"
    return f"{sign}{sec}" if rest >= 1000 else f"{sign}{rest}ms"


def go_float_e(v: float) -> str:
    """strconv.FormatFloat(v, 'E', -1, 64)."""
    return go_float_lower_e(v).replace("e", "E")


def _indent(text: str, indent: str) -> str:
    return ("\n" + indent).join(text.split("\n"))


def _alerts_str(items: list[tuple[Labels, Labels]]) -> str:
    if not items:
        return "[]"
    parts = []
    for i, (ls, ann) in enumerate(items):
        body = f"\nLabels:{labels_str(ls)}\nAnnotations:{labels_str(ann)}"
        parts.append(f"{i}:" + _indent(body, "  "))
    return "[\n" + ",\n".join(parts) + "\n]"


def _samples_str(items: list[tuple[Labels, float]]) -> str:
    if not items:
        return "nil"
    return ", ".join(f"{labels_str(ls)} {go_float_e(v)}" for ls, v in items)


# ---------------------------------------------------------------------------------------------
# Reading the test file
# ---------------------------------------------------------------------------------------------

def _float(node: yaml.Node | None) -> float:
    """A YAML scalar as Go decodes it into float64; ValueError otherwise."""
    if node is None or not isinstance(node, yaml.ScalarNode):
        return 0.0
    text = node.value.strip()
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    if text.lower() in special:
        return special[text.lower()]
    return float(text.replace("_", ""))


def _dur(dec: _Decoder, node: yaml.Node | None) -> int:
    text = dec.string(node)
    try:
        return round(parse_duration(text) * 1000) if text else 0
    except ValueError as exc:
        raise RuleTestError(str(exc)) from None


def read_test_file(path: str) -> tuple[list[str], int, list[str], list[RuleTestGroup]]:
    """(rule files, evaluation interval ms, group order, tests); RuleTestError on problems."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleTestError(str(exc)) from None
    except yaml.MarkedYAMLError as exc:
        line = (exc.problem_mark.line + 1) if exc.problem_mark else 1
        raise RuleTestError(f"yaml: line {line}: {exc.problem}") from None
    dec = _Decoder(path)
    top = dec.mapping(root, _FILE_KEYS, "main.unitTestFile") if root is not None else None
    if top is None:
        _raise_unmarshal(dec)
        return [], 60_000, [], []
    v = top.values
    rule_files = [dec.string(n) for n in dec.sequence(v.get("rule_files"), "[]string")]
    interval = _dur(dec, v.get("evaluation_interval")) or 60_000
    order = [dec.string(n) for n in dec.sequence(v.get("group_eval_order"), "[]string")]
    tests = [_read_test(dec, n, interval) for n in dec.sequence(v.get("tests"), "[]main.testGroup")]
    _raise_unmarshal(dec)
    return _resolve(path, rule_files), interval, order, [t for t in tests if t is not None]


def _raise_unmarshal(dec: _Decoder) -> None:
    if dec.errors:
        raise RuleTestError("yaml: unmarshal errors:\n  " + "\n  ".join(dec.errors))


def _resolve(path: str, files: list[str]) -> list[str]:
    base = os.path.dirname(path)
    out: list[str] = []
    for f in files:
        pattern = f if os.path.isabs(f) else os.path.join(base, f)
        matches = sorted(glob.glob(pattern))
        out += matches if matches else [pattern]
    return out


def _read_test(dec: _Decoder, node: yaml.Node, default_interval: int) -> RuleTestGroup | None:
    raw = dec.mapping(node, _TEST_KEYS, "main.testGroup")
    if raw is None:
        return None
    v = raw.values
    tg = RuleTestGroup(
        name=dec.string(v.get("name")),
        interval_ms=_dur(dec, v.get("interval")) or default_interval,
        series=[],
        external_labels=dec.string_map(v.get("external_labels")),
        external_url=dec.string(v.get("external_url")),
    )
    for sn in dec.sequence(v.get("input_series"), "[]main.series"):
        s = dec.mapping(sn, {"series", "values"}, "main.series")
        if s is not None:
            tg.series.append((dec.string(s.values.get("series")), dec.string(s.values.get("values"))))
    for an in dec.sequence(v.get("alert_rule_test"), "[]main.alertTestCase"):
        tg.alerts += _read_alert_case(dec, an)
    for en in dec.sequence(v.get("promql_expr_test"), "[]main.promqlTestCase"):
        tg.exprs += _read_expr_case(dec, en)
    return tg


def _read_alert_case(dec: _Decoder, node: yaml.Node) -> list[AlertCase]:
    raw = dec.mapping(node, {"eval_time", "alertname", "exp_alerts"}, "main.alertTestCase")
    if raw is None:
        return []
    name = dec.string(raw.values.get("alertname"))
    expected = []
    for en in dec.sequence(raw.values.get("exp_alerts"), "[]main.alert"):
        e = dec.mapping(en, {"exp_labels", "exp_annotations"}, "main.alert")
        if e is None:
            continue
        ls = {**dec.string_map(e.values.get("exp_labels")), "alertname": name}
        expected.append((make_labels(ls), make_labels(dec.string_map(e.values.get("exp_annotations")))))
    return [AlertCase(_dur(dec, raw.values.get("eval_time")), name, expected)]


def _read_expr_case(dec: _Decoder, node: yaml.Node) -> list[ExprCase]:
    raw = dec.mapping(node, {"expr", "eval_time", "exp_samples"}, "main.promqlTestCase")
    if raw is None:
        return []
    samples = []
    for sn in dec.sequence(raw.values.get("exp_samples"), "[]main.sample"):
        s = dec.mapping(sn, {"labels", "value", "histogram"}, "main.sample")
        if s is None:
            continue
        try:
            fv = _float(s.values.get("value"))
        except ValueError:
            dec.errors.append(f"line {sn.start_mark.line + 1}: cannot unmarshal !!str into float64")
            fv = 0.0
        samples.append((dec.string(s.values.get("labels")), fv))
    return [ExprCase(dec.string(raw.values.get("expr")), _dur(dec, raw.values.get("eval_time")), samples)]


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------

def load_series(tg: RuleTestGroup) -> MemoryQuerier:
    """The test's input series, sampled every `interval` from time 0."""
    store = MemoryQuerier()
    for desc, values in tg.series:
        try:
            labels = parse_labels(desc)
            vals = parse_values(values)
        except Exception as exc:
            raise RuleTestError(f'error parsing series {desc!r} {values!r}: {exc}') from None
        ts = [i * tg.interval_ms for i, x in enumerate(vals) if x is not None]
        vs = [x for x in vals if x is not None]
        if ts:
            store.add(labels, np.array(ts), np.array(vs))
    return store


def _groups(defs: list[GroupDef], order: list[str], tg: RuleTestGroup) -> list[Group]:
    ctx = AlertContext(dict(tg.external_labels), tg.external_url)
    opts = GroupOptions(interval_ms=tg.interval_ms, alert_ctx=ctx)
    rank = {name: i for i, name in enumerate(order)}
    groups = [Group(d, opts, restored=True) for d in defs if not d.is_logs]  # input_series are metrics
    return sorted(groups, key=lambda g: rank.get(g.name, 0))


def run_test_group(tg: RuleTestGroup, defs: list[GroupDef], eval_ms: int, order: list[str]) -> list[str]:
    """Run one test; the failure messages (empty when it passes)."""
    storage = MemoryStorage(load_series(tg))
    groups = _groups(defs, order, tg)
    for case in tg.alerts:
        if not case.alertname:
            where = f" (in TestGroup {tg.name})" if tg.name else ""
            return [f"an item under alert_rule_test misses required attribute alertname at eval_time "
                    f"{format_duration(case.eval_time_ms / 1000)}{where}"]
    maxt = max([c.eval_time_ms for c in tg.alerts] + [c.eval_time_ms for c in tg.exprs] + [0])
    times = sorted({c.eval_time_ms for c in tg.alerts})
    errs: list[str] = []
    curr, ts = 0, 0
    while ts <= maxt:
        eval_errs = _eval_all(groups, ts, storage)
        if eval_errs:
            return errs + eval_errs
        while curr < len(times) and ts <= times[curr] < ts + eval_ms:
            errs += _check_alerts(tg, groups, times[curr])
            curr += 1
        ts += eval_ms
    return errs + [e for c in tg.exprs if (e := _check_expr(c, storage))]


def _eval_all(groups: list[Group], ts: int, storage: MemoryStorage) -> list[str]:
    errs = []
    for g in groups:
        g.eval(ts, storage)
        for r in g.rules:
            if r.status.last_error:
                errs.append(f"    rule: {r.name}, time: {go_duration(ts)}, err: {r.status.last_error}")
    return errs


def _check_alerts(tg: RuleTestGroup, groups: list[Group], t: int) -> list[str]:
    got: dict[str, list[tuple[Labels, Labels]]] = {}
    for g in groups:
        for r in g.rules:
            if isinstance(r, AlertingRule):
                got.setdefault(r.name, []).extend(
                    (a.labels, make_labels(a.annotations)) for a in r.active.values()
                    if a.state == AlertState.FIRING
                )
    errs = []
    for case in (c for c in tg.alerts if c.eval_time_ms == t):
        exp, have = sorted(case.expected), sorted(got.get(case.alertname, []))
        if exp != have:
            name = f"    name: {tg.name},\n" if tg.name else ""
            errs.append(
                f"{name}    alertname: {case.alertname}, time: {format_duration(t / 1000)}, \n"
                f"        exp:{_indent(_alerts_str(exp), ' ' * 12)}, \n"
                f"        got:{_indent(_alerts_str(have), ' ' * 12)}"
            )
    return errs


def _check_expr(case: ExprCase, storage: MemoryStorage) -> str:
    when = format_duration(case.eval_time_ms / 1000)
    try:
        got = storage.query(case.expr, case.eval_time_ms)
    except RuleEvalError as exc:
        return f"    expr: {go_quote(case.expr)}, time: {when}, err: {exc}"
    except Exception as exc:
        return f"    expr: {go_quote(case.expr)}, time: {when}, err: {exc}"
    exp: list[tuple[Labels, float]] = []
    for text, value in case.samples:
        try:
            exp.append((parse_labels(text) if text.strip() else (), value))
        except BaseException as exc:
            return f"    expr: {go_quote(case.expr)}, time: {when}, err: labels {go_quote(text)}: {exc}"
    exp.sort(key=lambda s: s[0])
    have = sorted(got, key=lambda s: s[0])
    if not _same_samples(exp, have):
        return (f"    expr: {go_quote(case.expr)}, time: {when},\n"
                f"        exp: {_samples_str(exp)}\n        got: {_samples_str(have)}")
    return ""


def _same_samples(a: list[tuple[Labels, float]], b: list[tuple[Labels, float]]) -> bool:
    """reflect.DeepEqual: exact labels and exact floats (NaN never equals)."""
    return len(a) == len(b) and all(x[0] == y[0] and x[1] == y[1] for x, y in zip(a, b, strict=True))


def run_test_file(path: str) -> list[str]:
    """All failure messages of one test file (empty when it passes)."""
    try:
        rule_files, eval_ms, order, tests = read_test_file(path)
    except RuleTestError as exc:
        return [str(exc)]
    if len(set(order)) != len(order):
        dup = next(n for n in order if order.count(n) > 1)
        return [f"group name repeated in evaluation order: {dup}"]
    defs: list[GroupDef] = []
    try:
        for f in rule_files:
            defs += load_rule_file(f)
    except RuleFileError as exc:
        return exc.messages
    errs: list[str] = []
    for tg in tests:
        try:
            errs += run_test_group(tg, defs, eval_ms, order)
        except RuleTestError as exc:
            errs.append(str(exc))
    return errs


def run_rule_tests(files: list[str], echo: Echo, echo_err: Echo) -> int:
    """promtool test rules: per file `Unit Testing:` then SUCCESS or FAILED with messages."""
    failed = False
    for path in files:
        echo(f"Unit Testing:  {path}")
        errs = run_test_file(path)
        if errs:
            echo_err("  FAILED:")
            for e in errs:
                echo_err(e)
                echo("")
            failed = True
        else:
            echo("  SUCCESS")
        echo("")
    return 1 if failed else 0

