"""Series registry: label sets <-> dense integer refs, and postings for label matchers.

Refs are assigned densely from 0 and never reused, so per-series state elsewhere can live in
flat numpy arrays indexed by ref. Postings are compact `array('I')` lists per (name, value);
refs are appended in increasing order, so every postings list is sorted.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import numpy as np

from pharos.metrics.model import Labels, Matcher, MatchOp, make_labels


class SeriesRegistry:
    def __init__(self) -> None:
        self._labels: list[Labels] = []
        self._refs: dict[Labels, int] = {}
        self._postings: dict[str, dict[str, array]] = {}

    def __len__(self) -> int:
        return len(self._labels)

    def get(self, labels: Labels) -> int | None:
        return self._refs.get(labels)

    def labels(self, ref: int) -> Labels:
        return self._labels[ref]

    def add(self, labels: Labels) -> int:
        """Register a new label set and return its ref (the caller checked it is new)."""
        ref = len(self._labels)
        self._labels.append(labels)
        self._refs[labels] = ref
        postings = self._postings
        for name, value in labels:
            by_value = postings.get(name)
            if by_value is None:
                by_value = postings[name] = {}
            plist = by_value.get(value)
            if plist is None:
                plist = by_value[value] = array("I")
            plist.append(ref)
        return ref

    @staticmethod
    def canonical(flat: Sequence[str]) -> Labels:
        """The label set given as [name, value, name, value, ...]."""
        return make_labels(list(zip(flat[0::2], flat[1::2], strict=True)))

    def add_flat(self, flat: Sequence[str]) -> int:
        """Register a label set given as [name, value, name, value, ...]."""
        labels = self.canonical(flat)
        existing = self._refs.get(labels)
        return existing if existing is not None else self.add(labels)

    @staticmethod
    def flatten(labels: Labels) -> list[str]:
        return [s for pair in labels for s in pair]

    # -- matching ----------------------------------------------------------------------------
    def match(self, matchers: Sequence[Matcher]) -> np.ndarray:
        """Sorted refs of series matching every matcher (Prometheus semantics: a matcher that
        matches the empty string also matches series that lack the label)."""
        n = len(self._labels)
        mask = np.ones(n, dtype=bool)
        for m in sorted(matchers, key=_selectivity):
            mask &= self._match_one(m, n)
            if not mask.any():
                break
        return np.flatnonzero(mask).astype(np.uint32)

    def match_any(self, matcher_sets: Sequence[Sequence[Matcher]]) -> np.ndarray:
        """Refs matching any of the matcher sets (all series when there are none)."""
        if not matcher_sets:
            return np.arange(len(self._labels), dtype=np.uint32)
        return np.unique(np.concatenate([self.match(ms) for ms in matcher_sets]))

    def _match_one(self, m: Matcher, n: int) -> np.ndarray:
        by_value = self._postings.get(m.name, {})
        mask = np.zeros(n, dtype=bool)
        if m.op is MatchOp.EQUAL and m.value != "":
            plist = by_value.get(m.value)
            if plist is not None:
                mask[_as_np(plist)] = True
            return mask
        for value, plist in list(by_value.items()):
            if m.matches(value):
                mask[_as_np(plist)] = True
        if m.matches_empty():
            mask |= ~self._has_label(m.name, n)
        return mask

    def _has_label(self, name: str, n: int) -> np.ndarray:
        mask = np.zeros(n, dtype=bool)
        for plist in list(self._postings.get(name, {}).values()):
            mask[_as_np(plist)] = True
        return mask

    # -- label listing -----------------------------------------------------------------------
    def label_names_of(self, refs: Iterable[int]) -> set[str]:
        names: set[str] = set()
        for ref in refs:
            names.update(n for n, _ in self._labels[ref])
        return names

    def all_label_names(self) -> list[str]:
        return sorted(self._postings)

    def values_of(self, name: str) -> dict[str, array]:
        return self._postings.get(name, {})

    def postings_items(self) -> list[tuple[str, dict[str, array]]]:
        return list(self._postings.items())


def _as_np(plist: array) -> np.ndarray:
    # A copy: the array may grow (append) while the numpy view is alive otherwise.
    return np.array(plist, dtype=np.uint32)


def _selectivity(m: Matcher) -> int:
    """Cheap matchers first: equality, then inequality, then regexes."""
    return {MatchOp.EQUAL: 0, MatchOp.NOT_EQUAL: 1, MatchOp.REGEX: 2, MatchOp.NOT_REGEX: 3}[m.op]
