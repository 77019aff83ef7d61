"""A group over the TSDB reads each selector once per evaluation and still sees its own results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pharos.metrics.model import make_labels
from pharos.metrics.tsdb.db import TSDB
from pharos.rules.group import Group, GroupOptions
from pharos.rules.rulefile import parse_rule_text
from pharos.rules.storage import TSDBStorage

RULES = """groups:
  - name: g
    rules:
      - record: before:count
        expr: count(x:rate1m) or vector(0)
      - record: x:rate1m
        expr: sum(rate(x_total[1m]))
      - record: x:rate5m
        expr: sum(rate(x_total[5m]))
      - record: x:ratio
        expr: x:rate1m / x:rate5m
      - alert: Busy
        expr: rate(x_total{i="1"}[2m]) > 0
      - record: busy:count
        expr: count(ALERTS{alertname="Busy"})
"""


@pytest.fixture
def tsdb(tmp_path: Path):  # type: ignore[no-untyped-def]
    db = TSDB(tmp_path / "data")
    db.open()
    refs = np.array([db.get_ref(make_labels({"__name__": "x_total", "i": str(i)})) for i in range(3)])
    for k in range(40):
        db.append(refs, np.array([k * 15_000]), np.array([k * 15.0, k * 30.0, k * 45.0]))
    yield db
    db.close()


def test_group_reads_each_selector_once_and_sees_earlier_results(tsdb: TSDB, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    reads: list[str] = []
    real = tsdb._select_flat

    def counting(matchers, mint, maxt):  # type: ignore[no-untyped-def]
        reads.append(",".join(f"{m.name}={m.value}" for m in matchers))
        return real(matchers, mint, maxt)

    monkeypatch.setattr(tsdb, "_select_flat", counting)
    g = Group(parse_rule_text(RULES, "r.yml")[0], GroupOptions())
    storage = TSDBStorage(tsdb)
    g.eval(570_000, storage)
    assert [r.status.last_error for r in g.rules] == [""] * 6
    # x_total once for both windows; the ratio and the count read what was just recorded (the
    # group's appends drop what the scope had read of x:rate1m before)
    assert reads.count("__name__=x_total") == 1
    assert storage.query("x:ratio", 570_000) == [(make_labels({"__name__": "x:ratio"}), 1.0)]
    assert storage.query("busy:count", 570_000) == [(make_labels({"__name__": "busy:count"}), 1.0)]
