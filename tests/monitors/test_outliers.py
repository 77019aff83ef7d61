"""Outliers: precision and recall on generated groups with planted divergent members."""

import numpy as np
import pytest

from pharos.monitors.outliers import ALGORITHMS, outliers

GROUPS = 40


def make_group(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """10-50 similar series (shared daily shape, own noise and scale) and 1-3 planted outliers."""
    n = int(rng.integers(10, 51))
    t = np.arange(288)
    base = 50 + 20 * np.sin(2 * np.pi * t / 288)
    x = base * rng.uniform(0.95, 1.05, (n, 1)) + rng.normal(0, 2, (n, len(t)))
    planted = rng.choice(n, size=int(rng.integers(1, 4)), replace=False)
    for i in planted:
        kind = rng.integers(3)
        start = int(rng.integers(0, 150))
        if kind == 0:  # level shift for the rest of the span
            x[i, start:] += rng.choice([-1, 1]) * rng.uniform(20, 40)
        elif kind == 1:  # a different shape
            x[i] = 50 - 20 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, len(t))
        else:  # runaway growth
            x[i, start:] += np.linspace(0, rng.uniform(40, 80), len(t) - start)
    truth = np.zeros(n, bool)
    truth[planted] = True
    return x, truth


def precision_recall(algorithm: str) -> tuple[float, float]:
    rng = np.random.default_rng(42)
    tp = fp = fn = 0
    for _ in range(GROUPS):
        x, truth = make_group(rng)
        found = outliers(x, algorithm)
        tp += int((found & truth).sum())
        fp += int((found & ~truth).sum())
        fn += int((~found & truth).sum())
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_precision_and_recall_at_default_tolerance(algorithm: str) -> None:
    precision, recall = precision_recall(algorithm)
    assert precision >= 0.9, precision
    assert recall >= 0.9, recall


def test_a_quiet_group_has_no_outliers() -> None:
    rng = np.random.default_rng(3)
    x = 10 + rng.normal(0, 1, (20, 100))
    for algorithm in ALGORITHMS:
        assert outliers(x, algorithm).sum() <= 1


def test_small_groups_and_bad_names() -> None:
    assert not outliers(np.ones((2, 5)), "mad").any()
    with pytest.raises(ValueError):
        outliers(np.ones((5, 5)), "kmeans")
