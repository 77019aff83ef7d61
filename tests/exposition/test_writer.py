"""The text writer's output parses back (through pharos' Prometheus-exact parser) to what was added."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from pharos.metrics.exposition import ExpositionFormat, parse
from pharos.metrics.exposition.writer import Exposition, format_value
from pharos.metrics.model import make_labels

NAMES = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
VALUES = st.floats(allow_nan=True, allow_infinity=True)
LABELS = st.dictionaries(NAMES.filter(lambda n: not n.startswith("__")), st.text(max_size=8), max_size=3)


@given(st.lists(st.tuples(st.sampled_from(["a_metric", "b_metric", "c"]), LABELS, VALUES), max_size=8))
def test_render_parses_back(samples: list[tuple[str, dict[str, str], float]]) -> None:
    exp = Exposition()
    for name, labels, value in samples:
        exp.add(name, "gauge", f"help of {name}\\\n", value, labels)
    parsed = parse(exp.render(by_name=True).encode(), ExpositionFormat.PROMETHEUS_TEXT)
    got = {s.labels: s.value for s in parsed.samples}
    want = {make_labels({"__name__": n, **lb}): v for n, lb, v in samples}
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert math.isnan(got[key]) if math.isnan(value) else got[key] == value
    meta = {name: (m.type, m.help) for name, m in parsed.metadata.items()}
    assert meta == {n: ("gauge", f"help of {n}\\\n") for n, _, _ in samples}


def test_families_keep_first_help_and_order() -> None:
    exp = Exposition()
    exp.add("z_total", "counter", "Zs.", 3)
    exp.add("a", "gauge", "As.", 0.5, {"k": 'q"\n\\'})
    exp.add("z_total", "counter", "ignored", 4)
    assert exp.render() == (
        "# HELP z_total Zs.\n# TYPE z_total counter\nz_total 3\nz_total 4\n"
        '# HELP a As.\n# TYPE a gauge\na{k="q\\"\\n\\\\"} 0.5\n'
    )
    assert exp.render(by_name=True).startswith("# HELP a As.\n")
    assert Exposition().render() == ""


def test_format_value() -> None:
    assert [format_value(v) for v in (1.0, -2.0, 0.25, 1e15, math.inf, -math.inf, math.nan)] == [
        "1",
        "-2",
        "0.25",
        "1000000000000000.0",
        "+Inf",
        "-Inf",
        "NaN",
    ]
