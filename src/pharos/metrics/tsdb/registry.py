"""Series registry: label sets <-> dense integer refs, and postings for label matchers.

Refs are assigned densely from 0 and never reused, so per-series state elsewhere can live in
flat numpy arrays indexed by ref. Postings are compact `array('I')` lists per (name, value);
refs are appended in increasing order, so every postings list is sorted.

Reads return series in label order; `refresh_order()` (the maintenance thread) keeps each
series' rank in that order, so a read sorts its refs with one numpy argsort instead of
comparing label tuples (series newer than the last refresh fall back to the comparison).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence

import numpy as np

from pharos.metrics.model import Labels, Matcher, MatchOp, make_labels


class SeriesRegistry:
    def __init__(self) -> None:
        self._labels: list[Labels] = []
        self._refs: dict[Labels, int] = {}
        self._postings: dict[str, dict[str, array]] = {}
        self._order = np.zeros(0, np.int64)  # refs [0, len) in label order
        self._rank = np.zeros(0, np.int64)  # position of each of those refs in `_order`

    def __len__(self) -> int:
        return len(self._labels)

    def get(self, labels: Labels) -> int | None:
        return self._refs.get(labels)

    def labels(self, ref: int) -> Labels:
        return self._labels[ref]

    def add(self, labels: Labels) -> int:
        """Register a new label set and return its ref (the caller checked it is new)."""
        return self.add_many([labels])

    def add_many(self, new: Sequence[Labels]) -> int:
        """Register new, distinct label sets (the caller checked); returns the first one's ref.

        Postings grow once per (name, value) pair of the batch, not once per series."""
        first = len(self._labels)
        self._labels.extend(new)
        self._refs.update(zip(new, range(first, first + len(new)), strict=True))
        grouped: dict[tuple[str, str], list[int]] = {}
        for ref, labels in enumerate(new, first):
            for pair in labels:
                refs = grouped.get(pair)
                if refs is None:
                    grouped[pair] = [ref]
                else:
                    refs.append(ref)
        postings = self._postings
        for (name, value), refs in grouped.items():
            by_value = postings.get(name)
            if by_value is None:
                by_value = postings[name] = {}
            plist = by_value.get(value)
            if plist is None:
                by_value[value] = array("I", refs)
            else:
                plist.extend(refs)
        return first

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

    # -- label order -------------------------------------------------------------------------
    def refresh_order(self) -> None:
        """Rank the series added since the last call in label order (new series are placed by
        binary search among the ranked ones; many new series are sorted all over again)."""
        labels = self._labels
        n, old = len(labels), self._order
        m = len(old)
        if n == m:
            return
        if n - m > m // 4:
            order = np.array(sorted(range(n), key=labels.__getitem__), np.int64)
        else:
            new = sorted(range(m, n), key=labels.__getitem__)
            at = [bisect_left(old, labels[r], key=labels.__getitem__) for r in new]
            order = np.insert(old, at, new)
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
        self._order, self._rank = order, rank

    def label_order(self, refs: np.ndarray) -> np.ndarray | None:
        """The permutation putting `refs` (distinct) in label order; None when one of them is
        newer than the last `refresh_order()`."""
        rank = self._rank
        if len(refs) and int(refs.max()) >= len(rank):
            return None
        return np.argsort(rank[refs])

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
