"""The NAB scorer: null and perfect detectors, sigmoid weights, the threshold sweep."""

import numpy as np
import pytest

from pharos.monitors import nab
from shared_data import SHARED

NAB_DIR = SHARED / "nab"


@pytest.fixture(scope="module")
def corpus() -> list[nab.NabFile]:
    return nab.load_corpus(NAB_DIR)


@pytest.fixture(scope="module")
def weights(corpus: list[nab.NabFile]) -> list[nab.RowWeights]:
    return [nab.row_weights(len(f.values), f.windows) for f in corpus]


def test_corpus_shape(corpus: list[nab.NabFile]) -> None:
    assert len(corpus) == 58
    assert sum(len(f.windows) for f in corpus) == 116
    assert sum(len(f.values) - f.probation for f in corpus) == 332_842


def test_sigmoid_values() -> None:
    assert nab.sigmoid(0.0) == pytest.approx(0.0)
    assert nab.sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert nab.sigmoid(3.5) == -1.0


def test_probation() -> None:
    assert nab.probation(1000) == 150
    assert nab.probation(100_000) == 750


@pytest.mark.parametrize("profile", list(nab.PROFILES))
def test_null_detector_scores_zero(corpus, weights, profile: str) -> None:
    scores = [np.zeros(len(f.values)) for f in corpus]
    result = nab.sweep(scores, weights, profile)
    assert result.normalized == pytest.approx(0.0)
    assert result.threshold == nab.SWEEP_START


@pytest.mark.parametrize("profile", list(nab.PROFILES))
def test_perfect_detector_scores_100(corpus, weights, profile: str) -> None:
    scores = []
    for f in corpus:
        s = np.zeros(len(f.values))
        for start, _ in f.windows:
            s[start] = 1.0
        scores.append(s)
    assert nab.sweep(scores, weights, profile).normalized == pytest.approx(100.0)


def test_window_weights_and_fp_after_window() -> None:
    w = nab.row_weights(1000, [(400, 409)])
    start = w.start  # 150
    assert w.tp[400 - start] == pytest.approx(1.0)
    assert w.tp[409 - start] == pytest.approx(nab.sigmoid(-0.1) / nab.SIGMA_MINUS_ONE)
    assert w.fp[300 - start] == -1.0  # before any window: full cost
    assert w.fp[410 - start] == pytest.approx(nab.sigmoid(1 / 9))  # W' - 1 denominator
    assert w.fp[900 - start] == -1.0


def test_window_counts_once_and_earliest_wins() -> None:
    w = nab.row_weights(1000, [(400, 409)])
    s = np.zeros(1000)
    s[[405, 402, 408]] = 1.0
    expected = nab.sigmoid(-(409 - 402 + 1) / 10) / nab.SIGMA_MINUS_ONE
    assert nab.file_score(s, w, 0.5, "standard") == pytest.approx(expected)
    s[0:150] = 1.0  # probationary rows never count
    assert nab.file_score(s, w, 0.5, "standard") == pytest.approx(expected)


def test_sweep_matches_per_file_scores(corpus, weights) -> None:
    rng = np.random.default_rng(7)
    scores = [rng.random(len(f.values)) ** 8 for f in corpus]
    for profile in nab.PROFILES:
        r = nab.sweep(scores, weights, profile)
        total = sum(nab.file_score(s, w, r.threshold, profile) for s, w in zip(scores, weights, strict=True))
        assert total == pytest.approx(r.raw)
        # no other threshold does better
        for theta in (0.5, 0.9, 0.99, 0.999):
            other = sum(nab.file_score(s, w, theta, profile) for s, w in zip(scores, weights, strict=True))
            assert other <= r.raw + 1e-9
