"""Relabelling: the 11 actions with Prometheus's semantics, table + property tests, and a
side-by-side run against the real Prometheus 2.42."""

from __future__ import annotations

import hashlib
import re
import string
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pharos.config.model import RelabelConfig
from pharos.metrics.model import Labels, make_labels
from pharos.metrics.scrape.relabel import (
    compile_re2,
    compile_relabel,
    compile_template,
    expand_template,
    relabel,
)


def rc(**kwargs: Any) -> RelabelConfig:
    return RelabelConfig.model_validate(kwargs)


def L(**pairs: str) -> Labels:
    return make_labels(pairs)


# ---------------------------------------------------------------------------------------------
# Table tests (Prometheus's documented behaviour)
# ---------------------------------------------------------------------------------------------

CASES: list[tuple[str, dict[str, str], list[dict[str, Any]], dict[str, str] | None]] = [
    ("replace default regex copies value",
     {"a": "foo"}, [{"source_labels": ["a"], "target_label": "b"}], {"a": "foo", "b": "foo"}),
    ("replace with groups",
     {"a": "foo-bar"}, [{"source_labels": ["a"], "regex": "(.*)-(.*)", "target_label": "b",
                         "replacement": "$2.${1}"}], {"a": "foo-bar", "b": "bar.foo"}),
    ("replace is fully anchored: no partial match",
     {"a": "foobar"}, [{"source_labels": ["a"], "regex": "foo", "target_label": "b", "replacement": "x"}],
     {"a": "foobar"}),
    ("replace concatenates sources with separator",
     {"a": "1", "b": "2"}, [{"source_labels": ["a", "b", "missing"], "separator": "/", "target_label": "c"}],
     {"a": "1", "b": "2", "c": "1/2/"}),
    ("replace with empty result deletes the label",
     {"a": "x", "b": "old"}, [{"source_labels": ["a"], "regex": "x", "target_label": "b", "replacement": ""}],
     {"a": "x"}),
    ("$1x is group '1x' (unknown) -> empty -> delete",
     {"a": "foo", "b": "keep"}, [{"source_labels": ["a"], "regex": "(.*)", "target_label": "b",
                                  "replacement": "$1x"}], {"a": "foo"}),
    ("${1}x expands group 1",
     {"a": "foo"}, [{"source_labels": ["a"], "regex": "(.*)", "target_label": "b", "replacement": "${1}x"}],
     {"a": "foo", "b": "foox"}),
    ("$$ is a literal dollar, $9 unknown group is empty",
     {"a": "foo"}, [{"source_labels": ["a"], "target_label": "b", "replacement": "$$1-$9-$1"}],
     {"a": "foo", "b": "$1--foo"}),
    ("named groups",
     {"a": "k=v"}, [{"source_labels": ["a"], "regex": "(?P<key>\\w+)=(?P<val>\\w+)", "target_label": "$key",
                     "replacement": "$val"}], {"a": "k=v", "k": "v"}),
    ("templated target label",
     {"a": "foo"}, [{"source_labels": ["a"], "regex": "(.*)", "target_label": "x_${1}", "replacement": "1"}],
     {"a": "foo", "x_foo": "1"}),
    ("invalid templated target name is a no-op",
     {"a": "1-x"}, [{"source_labels": ["a"], "regex": "(.*)", "target_label": "${1}", "replacement": "v"}],
     {"a": "1-x"}),
    ("replace from nothing with default regex sets a constant",
     {"a": "1"}, [{"target_label": "env", "replacement": "prod"}], {"a": "1", "env": "prod"}),
    ("replace no match leaves labels",
     {"a": "foo"}, [{"source_labels": ["a"], "regex": "bar", "target_label": "b"}], {"a": "foo"}),
    ("dot does not match newline (Go default)",
     {"a": "x\ny"}, [{"source_labels": ["a"], "target_label": "b"}], {"a": "x\ny"}),
    ("keep matching", {"a": "foo"}, [{"source_labels": ["a"], "regex": "f.*", "action": "keep"}], {"a": "foo"}),
    ("keep not matching drops", {"a": "foo"}, [{"source_labels": ["a"], "regex": "bar", "action": "keep"}], None),
    ("keep missing label matches empty",
     {"a": "foo"}, [{"source_labels": ["b"], "regex": "", "action": "keep"}], {"a": "foo"}),
    ("drop matching", {"a": "foo"}, [{"source_labels": ["a"], "regex": "foo|bar", "action": "drop"}], None),
    ("drop anchored", {"a": "foox"}, [{"source_labels": ["a"], "regex": "foo|bar", "action": "drop"}],
     {"a": "foox"}),
    ("keepequal equal", {"a": "1", "b": "1"}, [{"source_labels": ["a"], "target_label": "b",
                                                 "action": "keepequal"}], {"a": "1", "b": "1"}),
    ("keepequal differs", {"a": "1", "b": "2"}, [{"source_labels": ["a"], "target_label": "b",
                                                  "action": "keepequal"}], None),
    ("dropequal equal", {"a": "1", "b": "1"}, [{"source_labels": ["a"], "target_label": "b",
                                                 "action": "dropequal"}], None),
    ("dropequal differs", {"a": "1", "b": "2"}, [{"source_labels": ["a"], "target_label": "b",
                                                  "action": "dropequal"}], {"a": "1", "b": "2"}),
    ("lowercase", {"a": "FoO"}, [{"source_labels": ["a"], "target_label": "b", "action": "lowercase"}],
     {"a": "FoO", "b": "foo"}),
    ("uppercase joins sources", {"a": "x", "b": "y"},
     [{"source_labels": ["a", "b"], "target_label": "c", "action": "uppercase"}],
     {"a": "x", "b": "y", "c": "X;Y"}),
    ("lowercase of empty deletes", {"a": "1", "c": "old"},
     [{"source_labels": ["zz"], "target_label": "c", "action": "lowercase"}], {"a": "1"}),
    ("labelmap", {"__meta_kubernetes_pod_label_app": "web", "__meta_x": "1", "a": "b"},
     [{"regex": "__meta_kubernetes_pod_label_(.+)", "action": "labelmap"}],
     {"__meta_kubernetes_pod_label_app": "web", "__meta_x": "1", "a": "b", "app": "web"}),
    ("labelmap with replacement", {"foo": "1", "bar": "2"},
     [{"regex": "(foo|bar)", "replacement": "x_${1}_y", "action": "labelmap"}],
     {"foo": "1", "bar": "2", "x_foo_y": "1", "x_bar_y": "2"}),
    ("labeldrop", {"a": "1", "ab": "2", "b": "3"}, [{"regex": "a.*", "action": "labeldrop"}], {"b": "3"}),
    ("labelkeep", {"a": "1", "ab": "2", "b": "3", "__name__": "m"},
     [{"regex": "a|__name__", "action": "labelkeep"}], {"a": "1", "__name__": "m"}),
    ("case-insensitive flag", {"a": "PROD"}, [{"source_labels": ["a"], "regex": "(?i)prod", "action": "keep"}],
     {"a": "PROD"}),
    ("POSIX class", {"a": "abc1"}, [{"source_labels": ["a"], "regex": "[[:alpha:]]+[[:digit:]]",
                                     "action": "keep"}], {"a": "abc1"}),
    ("chained: later rules see earlier results", {"a": "x"},
     [{"source_labels": ["a"], "target_label": "b", "replacement": "y"},
      {"source_labels": ["b"], "regex": "y", "action": "drop"}], None),
]


@pytest.mark.parametrize(("labels", "configs", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_table(labels: dict[str, str], configs: list[dict[str, Any]], expected: dict[str, str] | None) -> None:
    out = relabel(make_labels(labels), [rc(**c) for c in configs])
    assert (None if out is None else dict(out)) == expected


def test_hashmod_matches_prometheus_formula() -> None:
    cfg = rc(source_labels=["__address__"], modulus=8, target_label="shard", action="hashmod")
    out = relabel(L(__address__="10.0.0.1:9100"), [cfg])
    digest = hashlib.md5(b"10.0.0.1:9100").digest()
    assert out is not None
    assert dict(out)["shard"] == str(int.from_bytes(digest[8:], "big") % 8)


def test_hashmod_known_value() -> None:
    # md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; last 8 bytes 0xedef654fccc4a4d8 % 1000
    cfg = rc(source_labels=["a"], modulus=1000, target_label="h", action="hashmod")
    out = relabel(L(a="foo"), [cfg])
    assert out is not None and dict(out)["h"] == str(0xEDEF654FCCC4A4D8 % 1000)


def test_empty_configs_return_same_object() -> None:
    labels = L(__name__="up", job="x")
    assert relabel(labels, []) is labels
    assert compile_relabel([])(labels) is labels


def test_unchanged_labels_are_returned_as_is() -> None:
    labels = L(__name__="up", job="x")
    assert relabel(labels, [rc(source_labels=["job"], regex="x", action="keep")]) is labels


def test_relabeler_dict_api() -> None:
    relabeler = compile_relabel([rc(source_labels=["__address__"], regex="(.*):.*", target_label="host")])
    assert relabeler.apply_dict({"__address__": "h:1", "e": ""}) == {"__address__": "h:1", "host": "h"}


@pytest.mark.parametrize("pattern", ["a(?=b)", "a(?!b)", "(?<=a)b", "(a)\\1", "(?P=x)", "(?U)a*", "(?<x>a)"])
def test_perl_only_syntax_rejected(pattern: str) -> None:
    with pytest.raises(re.error):
        compile_re2(pattern)


@pytest.mark.parametrize(
    ("pattern", "value", "hit"),
    [("a\\z", "a", True), ("\\Qa.b\\E", "a.b", True), ("\\Qa.b\\E", "axb", False),
     ("(a(?i)b)c", "aBc", True), ("(a(?i)b)c", "aBC", False), ("[^]a]+", "bc", True),
     ("\\d+", "١٢", False), ("x(?s:.)y", "x\ny", True), ("[[:^alpha:]]", "1", None)],
)
def test_re2_translation(pattern: str, value: str, hit: bool | None) -> None:
    if hit is None:
        with pytest.raises(re.error):
            compile_re2(pattern)
        return
    assert (compile_re2(pattern).fullmatch(value) is not None) is hit


# ---------------------------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------------------------

names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True)
values = st.text(alphabet=string.ascii_letters + string.digits + "-_.:/ ", min_size=1, max_size=12)
label_sets = st.dictionaries(names, values, max_size=6).map(make_labels)


@given(label_sets, values, st.lists(names, min_size=1, max_size=3))
def test_keep_and_drop_are_complements(labels: Labels, literal: str, sources: list[str]) -> None:
    regex = re.escape(literal)
    kept = relabel(labels, [rc(source_labels=sources, regex=regex, action="keep")])
    dropped = relabel(labels, [rc(source_labels=sources, regex=regex, action="drop")])
    assert (kept is None) != (dropped is None)
    joined = ";".join(dict(labels).get(s, "") for s in sources)
    assert (kept is not None) == (joined == literal)


@given(label_sets, st.integers(min_value=1, max_value=2**40))
def test_hashmod_in_range_and_deterministic(labels: Labels, modulus: int) -> None:
    cfg = rc(source_labels=[n for n, _ in labels][:2], modulus=modulus, target_label="h", action="hashmod")
    a, b = relabel(labels, [cfg]), relabel(labels, [cfg])
    assert a == b and a is not None
    assert 0 <= int(dict(a)["h"]) < modulus


@given(label_sets, names)
def test_labeldrop_and_labelkeep_partition(labels: Labels, prefix: str) -> None:
    regex = re.escape(prefix[:2]) + ".*"
    dropped = relabel(labels, [rc(regex=regex, action="labeldrop")])
    kept = relabel(labels, [rc(regex=regex, action="labelkeep")])
    assert dropped is not None and kept is not None
    assert sorted(dropped + kept) == sorted(labels)
    assert all(n.startswith(prefix[:2]) for n, _ in kept)


@given(label_sets, st.lists(st.sampled_from(["lowercase", "uppercase", "replace", "labelmap"]), max_size=4))
def test_output_is_canonical(labels: Labels, actions: list[str]) -> None:
    configs = []
    for action in actions:
        if action == "labelmap":
            configs.append(rc(regex="(.)(.*)", replacement="m_$2", action=action))
        else:
            configs.append(rc(source_labels=[n for n, _ in labels][:1], target_label="t", action=action))
    out = relabel(labels, configs)
    assert out is not None
    assert list(out) == sorted(out)
    assert all(v != "" for _, v in out)
    assert len({n for n, _ in out}) == len(out)


@given(st.text(alphabet=string.ascii_letters + "$ {}_1", max_size=12), values)
def test_template_matches_go_expand_for_numbered_groups(template: str, value: str) -> None:
    regex = compile_re2("(.)(.*)")
    m = regex.fullmatch(value)
    assert m is not None
    assert expand_template(compile_template(template, regex), m) == _go_expand(template, m)


def _go_expand(template: str, m: re.Match[str]) -> str:
    """An independent, straightforward reading of Go's regexp.Expand."""
    out, i = "", 0
    while i < len(template):
        if template[i] != "$":
            out += template[i]
            i += 1
            continue
        if template[i + 1:i + 2] == "$":
            out, i = out + "$", i + 2
            continue
        mm = re.match(r"\{(\w+)\}|(\w+)", template[i + 1:])
        if mm is None:
            out, i = out + "$", i + 1
            continue
        name = mm.group(1) or mm.group(2)
        i += 1 + mm.end()
        if name.isdigit() and (name == "0" or name[0] != "0") and int(name) <= m.re.groups:
            out += m.group(int(name)) or ""
    return out


@given(st.text(max_size=20))
def test_escaped_literal_matches_itself(value: str) -> None:
    assert compile_re2(re.escape(value)).fullmatch(value) is not None


@settings(max_examples=50)
@given(label_sets)
def test_regex_replace_identity(labels: Labels) -> None:
    """replace with default regex from a label to itself changes nothing (values without newline)."""
    configs = [rc(source_labels=[n], target_label=n) for n, _ in labels]
    assert relabel(labels, configs) == labels


# ---------------------------------------------------------------------------------------------
# Side by side with the real Prometheus 2.42
# ---------------------------------------------------------------------------------------------

EXPOSITION = """\
# TYPE foo_total counter
foo_total{a="1",b="Xy"} 1
foo_total{a="2",b="yz"} 2
# TYPE go_gc gauge
go_gc 1
# TYPE bar gauge
bar{c="Hello",path="/api/v1"} 3
bar{c="world",path="/"} 4
"""

TARGET_RULES: dict[str, list[dict[str, Any]]] = {
    "t_rewrite": [
        {"source_labels": ["__address__"], "regex": "(.*):(\\d+)", "target_label": "host", "replacement": "$1"},
        {"source_labels": ["__address__"], "regex": "(.*):(\\d+)", "target_label": "port_${2}", "replacement": "p"},
        {"source_labels": ["env"], "target_label": "env_lower", "action": "lowercase"},
        {"source_labels": ["team", "env"], "separator": "-", "target_label": "te", "action": "uppercase"},
        {"source_labels": ["__address__"], "modulus": 7, "target_label": "shard", "action": "hashmod"},
        {"source_labels": ["__address__"], "modulus": 1000003, "target_label": "shard2", "action": "hashmod"},
        {"regex": "(env|team)", "replacement": "meta_$1", "action": "labelmap"},
        {"source_labels": ["team"], "regex": "(\\w+)", "target_label": "${1}_x", "replacement": "$$1$1x${1}x"},
        {"source_labels": ["gone"], "regex": "(.*)", "target_label": "gone", "replacement": "$1x"},
        {"source_labels": ["env"], "regex": "(?i)PROD", "target_label": "is_prod", "replacement": "yes"},
        {"source_labels": ["team"], "target_label": "team", "action": "keepequal"},
        {"regex": "team", "action": "labeldrop"},
    ],
    "t_dropped": [{"source_labels": ["env"], "regex": "staging|dev", "action": "keep"}],
    "t_dropequal": [{"source_labels": ["env"], "target_label": "env", "action": "dropequal"}],
}

METRIC_RULES: list[dict[str, Any]] = [
    {"source_labels": ["__name__"], "regex": "go_.*", "action": "drop"},
    {"source_labels": ["__name__", "a"], "regex": "foo_total;(\\d)", "target_label": "__name__",
     "replacement": "foo_${1}_total"},
    {"source_labels": ["b"], "target_label": "b_up", "action": "uppercase"},
    {"source_labels": ["path"], "regex": "/api/(.*)", "target_label": "api", "replacement": "$1"},
    {"source_labels": ["c"], "modulus": 3, "target_label": "c_mod", "action": "hashmod"},
    {"regex": "(c|path)", "replacement": "copy_$1", "action": "labelmap"},
    {"regex": "path", "action": "labeldrop"},
    {"source_labels": ["c"], "regex": "world", "action": "drop"},
]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_exposition() -> tuple[Any, int]:
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = EXPOSITION.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, int(server.server_address[1])


def _get(url: str) -> Any:
    import json
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _run_prometheus(tmp_path: Any, target_port: int) -> tuple[Any, str]:
    import subprocess
    import time

    import yaml

    jobs = [
        {"job_name": job, "scrape_interval": "1s", "scrape_timeout": "1s",
         "static_configs": [{"targets": [f"127.0.0.1:{target_port}"],
                             "labels": {"env": "Prod", "team": "Core", "gone": "here"}}],
         "relabel_configs": rules, "metric_relabel_configs": METRIC_RULES}
        for job, rules in TARGET_RULES.items()
    ]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": jobs}))
    port = _free_port()
    proc = subprocess.Popen(
        ["/usr/bin/prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"),  # noqa: SIM115
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            active = _get(f"{base}/api/v1/targets")["data"]["activeTargets"]
            series = _get(f"{base}/api/v1/series?match[]=%7Bjob%3D%22t_rewrite%22%7D")["data"]
        except OSError:
            continue
        if active and all(t["lastScrape"] > "2000" for t in active) and any(
                s["__name__"] == "bar" for s in series):
            return proc, base
    proc.kill()
    raise AssertionError("prometheus did not scrape in time: " + (tmp_path / "prometheus.log").read_text())


def _target_labels(discovered: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """What Prometheus shows as a target's labels: relabelled, no `__` labels, instance defaulted."""
    out = relabel(make_labels(discovered), [rc(**r) for r in rules])
    if out is None:
        return None
    labels = {n: v for n, v in out if not n.startswith("__")}
    labels.setdefault("instance", dict(out)["__address__"])
    return labels


def _exposed_series(job: str, instance: str) -> list[Labels]:
    """The exposition's series with the target labels attached."""
    line_re = re.compile(r"^(\w+)(?:\{(.*)\})? \S+$")
    pair_re = re.compile(r'(\w+)="([^"]*)"')
    out = []
    for line in EXPOSITION.splitlines():
        m = line_re.match(line)
        if m is None:
            continue
        pairs = dict(pair_re.findall(m.group(2) or ""))
        out.append(make_labels({**pairs, "__name__": m.group(1), "job": job, "instance": instance}))
    return out


@pytest.mark.interop
def test_relabel_matches_prometheus_242(tmp_path: Any) -> None:
    server, target_port = _serve_exposition()
    proc, base = _run_prometheus(tmp_path, target_port)
    try:
        targets = _get(f"{base}/api/v1/targets")["data"]
        got_series = _get(f"{base}/api/v1/series?match[]=%7B__name__%3D~%22.%2B%22%7D")["data"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        server.shutdown()

    prom_active = {t["scrapePool"]: t["labels"] for t in targets["activeTargets"]}
    prom_dropped = sorted(t["discoveredLabels"]["job"] for t in targets["droppedTargets"])
    discovered = {t["scrapePool"]: t["discoveredLabels"] for t in targets["activeTargets"]}
    discovered |= {t["discoveredLabels"]["job"]: t["discoveredLabels"] for t in targets["droppedTargets"]}

    ours_active, ours_dropped = {}, []
    for job, rules in TARGET_RULES.items():
        labels = _target_labels(discovered[job], rules)
        if labels is None:
            ours_dropped.append(job)
        else:
            ours_active[job] = labels
    assert ours_active == prom_active
    assert sorted(ours_dropped) == prom_dropped == ["t_dropequal", "t_dropped"]
    assert "gone" not in prom_active["t_rewrite"]  # $1x expanded to "" deleted the label

    synthetic = ("up", "scrape_")
    prom_series = {make_labels(s) for s in got_series if not s["__name__"].startswith(synthetic)}
    metric_rules = [rc(**r) for r in METRIC_RULES]
    ours = set()
    for job, labels in prom_active.items():
        for series in _exposed_series(job, labels["instance"]):
            merged = make_labels({**labels, **dict(series)})
            out = relabel(merged, metric_rules)
            if out is not None:
                ours.add(out)
    assert ours == prom_series, (ours, prom_series, prom_active)
    assert len(ours) == 3
