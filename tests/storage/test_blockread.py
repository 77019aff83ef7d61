"""Selective block reads (row-group pruning + decoded cache) agree with the SQL read path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pharos.metrics.model import STALE_NAN
from pharos.storage import blockread as br
from pharos.storage import parquet
from pharos.storage.backend import SampleRun
from pharos.storage.parquet import ParquetBackend

W = 7_200_000


@pytest.fixture
def small_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(parquet.BLOCK_OPTIONS, "row_group_size", 97)


def _random_run(rng: np.random.Generator, nseries: int, lo: int, hi: int, n: int) -> SampleRun:
    series = rng.integers(0, nseries, n).astype(np.uint32)
    ts = rng.integers(lo, hi, n).astype(np.int64)
    values = np.round(rng.normal(0, 100, n), int(rng.integers(0, 4)))
    inexact = rng.random(n) < 0.2
    values[inexact] = values[inexact] / 7  # not exact decimals: stored as floats
    values[rng.random(n) < 0.05] = STALE_NAN
    return SampleRun(series, ts, values)


def _same(a: SampleRun, b: SampleRun) -> bool:
    return (
        np.array_equal(a.series, b.series)
        and np.array_equal(a.ts, b.ts)
        and np.array_equal(a.values.view(np.uint64), b.values.view(np.uint64))
    )


@pytest.mark.usefixtures("small_row_groups")
def test_disjoint_blocks_match_sql_path(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    be = ParquetBackend(tmp_path)
    for w in range(3):
        be.write_run(_random_run(rng, 50, w * W, (w + 1) * W, 3000), W, level=1)
    blocks = be.blocks()
    for _ in range(40):
        ids = np.unique(rng.integers(0, 60, rng.integers(1, 60))).astype(np.uint32)
        mint = int(rng.integers(-W, 3 * W))
        maxt = mint + int(rng.integers(0, 2 * W))
        assert _same(be.select(blocks, ids, mint, maxt), be._read(blocks, ids, mint, maxt))
    assert be.cache.hits > 0


@pytest.mark.usefixtures("small_row_groups")
def test_overlapping_parts_keep_first_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    be = ParquetBackend(tmp_path)
    for _ in range(4):  # level-0 parts of one window with overlapping times and repeated samples
        be.write_run(_random_run(rng, 20, 0, 5000, 800), W)
    blocks = be.blocks()
    for _ in range(20):
        ids = np.unique(rng.integers(0, 20, rng.integers(1, 20))).astype(np.uint32)
        mint = int(rng.integers(0, 5000))
        assert _same(be.select(blocks, ids, mint, mint + 2500), be._read(blocks, ids, mint, mint + 2500))


def test_cache_is_bounded_and_dropped_with_the_block(tmp_path: Path) -> None:
    be = ParquetBackend(tmp_path, cache_bytes=4000)
    rng = np.random.default_rng(1)
    infos = [be.write_run(_random_run(rng, 5, w * W, (w + 1) * W, 100), W)[0] for w in range(3)]
    be.select(be.blocks(), np.arange(5, dtype=np.uint32), 0, 3 * W)
    assert 0 < be.cache.nbytes <= 4000
    be.drop_blocks(infos)
    assert be.cache.nbytes == 0


def test_gather_and_bisect() -> None:
    assert br.gather(np.array([2, 7, 7]), np.array([4, 7, 9])).tolist() == [2, 3, 7, 8]
    ts = np.array([1, 5, 9, 2, 4, 6, 8], np.int64)  # two runs: [0, 3) and [3, 7)
    lo, hi = np.array([0, 3]), np.array([3, 7])
    assert br._lower_bound(ts, lo, hi, 5, strict=False).tolist() == [1, 5]
    assert br._lower_bound(ts, lo, hi, 5, strict=True).tolist() == [2, 5]
