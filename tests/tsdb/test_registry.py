"""Series registry: refs and Prometheus matcher semantics."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from tsdb_helpers import lbl

from pharos.metrics.model import Matcher, MatchOp, make_labels
from pharos.metrics.tsdb.registry import SeriesRegistry


def _registry() -> SeriesRegistry:
    reg = SeriesRegistry()
    reg.add(lbl("up", job="node", instance="a"))  # 0
    reg.add(lbl("up", job="node", instance="b"))  # 1
    reg.add(lbl("up", job="app"))  # 2: no instance label
    reg.add(lbl("http_requests_total", job="app", code="200"))  # 3
    reg.add(lbl("http_requests_total", job="app", code="500"))  # 4
    return reg


def _m(name: str, op: str, value: str) -> Matcher:
    return Matcher(name, MatchOp(op), value)


def test_refs_are_dense_and_stable() -> None:
    reg = _registry()
    assert len(reg) == 5
    assert reg.get(lbl("up", job="app")) == 2
    assert reg.labels(3) == lbl("http_requests_total", job="app", code="200")
    assert reg.get(lbl("up", job="nope")) is None


def test_equal_and_not_equal() -> None:
    reg = _registry()
    assert reg.match([_m("__name__", "=", "up")]).tolist() == [0, 1, 2]
    assert reg.match([_m("__name__", "=", "up"), _m("job", "!=", "node")]).tolist() == [2]
    # != on a missing label: the series lacks it, i.e. has "", which is != "a"
    assert reg.match([_m("__name__", "=", "up"), _m("instance", "!=", "a")]).tolist() == [1, 2]


def test_empty_value_matches_missing_label() -> None:
    reg = _registry()
    assert reg.match([_m("instance", "=", "")]).tolist() == [2, 3, 4]
    assert reg.match([_m("instance", "!=", "")]).tolist() == [0, 1]
    assert reg.match([_m("nolabel", "=", "")]).tolist() == [0, 1, 2, 3, 4]


def test_regex_is_fully_anchored() -> None:
    reg = _registry()
    assert reg.match([_m("code", "=~", "2..")]).tolist() == [3]
    assert reg.match([_m("code", "=~", "2")]).tolist() == []  # anchored: "2" != "200"
    assert reg.match([_m("__name__", "=~", "http_.*")]).tolist() == [3, 4]
    assert reg.match([_m("__name__", "=~", "requests")]).tolist() == []


def test_regex_matching_empty_includes_missing() -> None:
    reg = _registry()
    assert reg.match([_m("instance", "=~", "a|")]).tolist() == [0, 2, 3, 4]
    assert reg.match([_m("instance", "=~", ".*")]).tolist() == [0, 1, 2, 3, 4]
    assert reg.match([_m("instance", "=~", ".+")]).tolist() == [0, 1]


def test_not_regex() -> None:
    reg = _registry()
    assert reg.match([_m("code", "!~", "5..")]).tolist() == [0, 1, 2, 3]
    assert reg.match([_m("instance", "!~", ".*")]).tolist() == []
    assert reg.match([_m("instance", "!~", "")]).tolist() == [0, 1]


def test_match_any_is_a_union() -> None:
    reg = _registry()
    got = reg.match_any([[_m("code", "=", "500")], [_m("instance", "=", "a")]])
    assert got.tolist() == [0, 4]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.dictionaries(st.sampled_from("abc"), st.text("xyz", max_size=3), max_size=3))))
def test_label_order_follows_labels_across_refreshes(batches: list) -> None:
    reg = SeriesRegistry()
    for batch in [{"x": str(i)} for i in range(8)], *batches:  # ranked first, then added in steps
        for pairs in batch:
            labels = make_labels({"__name__": "m", **pairs})
            if reg.get(labels) is None:
                reg.add(labels)
        reg.refresh_order()
        refs = np.arange(len(reg), dtype=np.uint32)[::-1]
        order = reg.label_order(refs)
        assert order is not None
        assert [reg.labels(r) for r in refs[order].tolist()] == sorted(reg.labels(r) for r in refs.tolist())


def test_label_order_is_unknown_for_series_added_since_the_refresh() -> None:
    reg = _registry()
    reg.refresh_order()
    reg.add(lbl("up", job="z"))
    assert reg.label_order(np.array([0, 5], np.uint32)) is None
    order = reg.label_order(np.array([3, 0, 4], np.uint32))
    assert order is not None and order.tolist() == [0, 2, 1]  # http_requests 200, 500, then up


@given(st.lists(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True), max_size=30))
def test_add_many_indexes_like_adding_one_by_one(names: list[list[str]]) -> None:
    sets = list(dict.fromkeys(make_labels({n: str(i % 3) for n in ns}) for i, ns in enumerate(names)))
    one, many = SeriesRegistry(), SeriesRegistry()
    for labels in sets:
        one.add(labels)
    half = len(sets) // 2
    many.add_many(sets[:half])
    assert many.add_many(sets[half:]) == half
    assert [many.labels(r) for r in range(len(sets))] == sets
    for name in "abc":
        assert {v: list(p) for v, p in many.values_of(name).items()} == {
            v: list(p) for v, p in one.values_of(name).items()
        }
