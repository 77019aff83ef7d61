"""A group's results go to storage in as few appends as its rules allow: held back until a
later rule may read them (so recording chains still see earlier results within one evaluation)."""

from __future__ import annotations

import numpy as np
import pytest

from pharos.metrics.model import make_labels
from pharos.rules.group import Group, GroupOptions, Reads
from pharos.rules.rule import Sample
from pharos.rules.rulefile import RuleDef, parse_rule_text
from pharos.rules.storage import MemoryStorage

CHAIN = """groups:
  - name: g
    rules:
      - record: a:sum
        expr: sum(x)
      - record: b:sum
        expr: sum(y)
      - record: a:double
        expr: a:sum * 2
      - alert: Big
        expr: a:double > 1
      - record: c:count
        expr: count(ALERTS)
"""


class CountingStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self.appends: list[list[str]] = []

    def append(self, samples: list[Sample], t_ms: int) -> None:
        self.appends.append(sorted({dict(ls)["__name__"] for ls, _ in samples}))
        super().append(samples, t_ms)


def test_appends_are_batched_until_a_rule_reads_them() -> None:
    st = CountingStorage()
    for name in ("x", "y"):
        st.store.add(make_labels({"__name__": name}), np.array([0]), np.array([3.0]))
    g = Group(parse_rule_text(CHAIN, "r.yml")[0], GroupOptions())
    g.eval(0, st)
    assert st.appends == [["a:sum", "b:sum"], ["a:double"], ["ALERTS", "ALERTS_FOR_STATE"], ["c:count"]]
    assert [r.status.last_error for r in g.rules] == [""] * 5
    assert st.query("c:count", 0)[0][1] == 1.0  # the chain saw every earlier result


@pytest.mark.parametrize(("expr", "annotations", "logql", "reads"), [
    ("sum(rate(x_total[5m]))", {}, False, Reads(frozenset({"sum", "rate", "x_total", "m"}), False)),
    ('sum({job="a"})', {}, False, Reads(frozenset({"sum", "job", "a"}), True)),
    ('{__name__=~"a.*"}', {}, False, Reads(frozenset({"__name__", "a"}), True)),
    ("x > 1", {"s": '{{ query "up" }}'}, False, Reads(frozenset(), True)),
    ('count_over_time({app="a"}[1m])', {}, True, Reads(frozenset(), False)),
])
def test_what_a_rule_may_read(expr: str, annotations: dict[str, str], logql: bool, reads: Reads) -> None:
    assert Reads.of(RuleDef(expr=expr, node=None, alert="A", annotations=annotations), logql) == reads
