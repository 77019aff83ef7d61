"""Alert templates: expansions kept between evaluations follow the sample; `query` ones don't."""

from __future__ import annotations

import numpy as np

from pharos.metrics.model import make_labels
from pharos.rules.group import Group, GroupOptions
from pharos.rules.rulefile import parse_rule_text
from pharos.rules.storage import MemoryStorage

RULES = """groups:
  - name: g
    rules:
      - alert: High
        expr: x > 0
        labels: {tag: 'n{{ $labels.i }}', team: a}
        annotations: {v: '{{ $labels.i }}={{ $value }}'}
      - alert: Asks
        expr: x > 0
        annotations: {y: '{{ with query "y" }}{{ . | first | value }}{{ end }}'}
"""
MIN = 60_000


def _annotations(g: Group, rule: int) -> dict[str, dict[str, str]]:
    return {dict(a.labels)["i"]: {**dict(a.labels), **a.annotations} for a in g.rules[rule].active.values()}


def test_expansions_follow_the_sample_and_query_results() -> None:
    st = MemoryStorage()
    for i, values in (("1", [3.0, 3.0, 7.0]), ("2", [4.0, 4.0, 4.0])):
        st.store.add(make_labels({"__name__": "x", "i": i}), np.arange(3) * MIN, np.array(values))
    st.store.add(make_labels({"__name__": "y"}), np.arange(3) * MIN, np.array([10.0, 20.0, 30.0]))
    g = Group(parse_rule_text(RULES, "r.yml")[0], GroupOptions())
    seen = []
    for k in range(3):
        g.eval(k * MIN, st)
        seen.append((_annotations(g, 0), {i: a["y"] for i, a in _annotations(g, 1).items()}))
    high = [s[0] for s in seen]
    assert high[0]["1"] == {"alertname": "High", "i": "1", "tag": "n1", "team": "a", "v": "1=3"}
    assert high[1] == high[0]  # the same samples: the same expansions
    assert high[2]["1"] == {**high[0]["1"], "v": "1=7"}
    assert high[2]["2"] == high[0]["2"]
    assert [s[1] for s in seen] == [{"1": "10", "2": "10"}, {"1": "20", "2": "20"}, {"1": "30", "2": "30"}]
